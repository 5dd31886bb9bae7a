"""GPUs and VFs on different NUMA nodes, from what the pod sees, the nodes say, or the plan."""

from __future__ import annotations

from clusters.diagnose.base import fmt_amount, names_text, new_diagnosis
from clusters.inspect import (
    Context,
    InterfaceReport,
    PodView,
)
from planner.findings import Finding


def numa_findings(
    view: PodView, context: Context, interfaces: list[InterfaceReport], devices: dict | None
) -> list[Finding]:
    if not view.running:
        return []
    gpu_numa, gpu_source = _gpu_numa(view, context, devices)
    if not gpu_numa:
        return _numa_unverified(view, context, interfaces)
    remote = [
        item for item in interfaces if item.numa_node is not None and item.numa_node not in gpu_numa
    ]
    if not remote:
        return []
    vf_text = names_text(
        f"{item.name} (rail {item.rail if item.rail is not None else '?'}, NUMA "
        f"{item.numa_node}{', ' + item.pci_address if item.pci_address else ''})"
        for item in remote
    )
    gpus = ", ".join(str(numa) for numa in sorted(gpu_numa))
    gpu_count = fmt_amount(view.requests.get(context.gpu_resource, 0))
    sources = sorted({item.numa_source or "plan" for item in remote})
    return [
        new_diagnosis(
            "NUMA_SPLIT",
            view,
            "spec.containers",
            f"RDMA works but throughput is about half: {vf_text} sit on a NUMA node that "
            f"holds none of the pod's {gpu_count} GPU(s) (NUMA node {gpus}); GPU-to-NIC "
            "traffic crosses the socket link.",
            "Turn on Topology Manager (single-numa-node or restricted) with the SR-IOV and GPU "
            "device plugins' NUMA hints (no excludeTopology), and request GPUs and rails of one "
            "NUMA node per pod (e.g. 4 GPUs + rails 0-3).",
            evidence=f"GPU NUMA from {gpu_source}; VF NUMA from {', '.join(sources)}: "
            + "; ".join(f"{item.name} numa_node={item.numa_node}" for item in remote),
        )
    ]


_NUMA_SOURCES = {
    "observed": "what the pod sees",
    "node": "the node's facts",
    "plan": "the plan's NIC inventory",
}


def _vf_numa_basis(interfaces: list[InterfaceReport]) -> str:
    """How each rail VF's NUMA node was found: 'net1 0000:18:00.2 (PF 0000:18:00.0) -> NUMA 0
    from the plan's NIC inventory'."""
    parts = []
    for item in interfaces:
        if not item.pci_address and item.numa_node is None:
            continue
        where = item.pci_address or "no PCI address"
        if item.pf_pci_address:
            where += f" (PF {item.pf_pci_address})"
        if item.numa_node is None:
            parts.append(f"{item.name} {where} -> NUMA unknown")
        else:
            source = _NUMA_SOURCES.get(item.numa_source or "plan", item.numa_source)
            parts.append(f"{item.name} {where} -> NUMA {item.numa_node} from {source}")
    return "; ".join(parts)


def _numa_unverified(
    view: PodView, context: Context, interfaces: list[InterfaceReport]
) -> list[Finding]:
    """A running pod with GPUs and rail VFs whose GPUs' NUMA nodes nothing observed: say what
    was judged (the VFs' NUMA nodes from the device-info PCI addresses in network-status, node
    facts or the inventory) and what could not be (which GPUs the pod got: the Kubernetes API
    does not tell, and no node agent answered for the pod's node)."""
    gpus = view.requests.get(context.gpu_resource, 0)
    if not gpus or not any(item.numa_node is not None for item in interfaces):
        return []  # nothing was judged
    basis = _vf_numa_basis(interfaces)
    return [
        new_diagnosis(
            "NUMA_UNVERIFIED",
            view,
            "spec.containers",
            f"The NUMA nodes of the pod's rail VFs were judged from their device-info PCI "
            f"addresses ({basis}); those of its {fmt_amount(gpus)} GPU(s) could not be: the Kubernetes "
            "API does not say which GPUs a pod got, and no node agent answered for its node, so "
            "GPU-to-VF NUMA alignment is unchecked.",
            "Install Rail Studio's node agent (`python manage.py node_agent --cluster NAME`), "
            "which reads the kubelet's PodResources API on each node; or run Topology Manager "
            "with single-numa-node so the kubelet refuses misaligned pods (TOPOLOGY_AFFINITY).",
            evidence=f"VF NUMA: {basis}; GPU NUMA: not observable through the API",
        )
    ]


def _gpu_numa(view: PodView, context: Context, devices: dict | None) -> tuple[set[int], str]:
    """The NUMA nodes of the pod's GPUs: observed, or the node's when it takes all of them."""
    if isinstance(devices, dict):
        observed = {
            gpu["numa_node"]
            for gpu in devices.get("gpus") or []
            if isinstance(gpu, dict) and isinstance(gpu.get("numa_node"), int)
        }
        if observed:
            return observed, "the pod's devices"
    wanted = view.requests.get(context.gpu_resource, 0)
    layout = context.nodes.gpu_numa.get(view.node or "") if context.nodes else None
    if not layout or not wanted:
        return set(), ""
    if wanted >= sum(layout.values()):
        return {numa for numa, count in layout.items() if count}, "the node (all its GPUs)"
    return set(), ""
