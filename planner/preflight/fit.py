"""Whether the pods fit the cluster's nodes: advertised resources, node selectors, NUMA."""

from __future__ import annotations

from planner import manifests, podfacts
from planner.findings import ERROR, WARNING, finding
from planner.preflight.context import Context
from planner.preflight.numa import NumaIndex
from planner.preflight.reading import STRICT_TOPOLOGY_POLICIES, Workload, fmt


def resources_unverified(context: Context, workload: Workload, requested: dict[str, float]) -> None:
    extended = sorted(
        res for res, amount in requested.items() if podfacts.is_extended(res) and amount
    )
    if not extended:
        return
    context.add(
        finding(
            "RESOURCES_UNVERIFIED",
            workload.ref,
            f"{workload.base}spec.containers",
            f"The cluster has no nodes, so whether any node advertises {', '.join(extended)} "
            "could not be checked: the pod will stay Pending until nodes that do join.",
            "Join the GPU nodes (with the SR-IOV device plugin running) and check again.",
        )
    )


def check_fit(context: Context, workload: Workload, requested: dict[str, float]) -> None:
    nodes = context.nodes
    extended = {
        res: amount for res, amount in requested.items() if podfacts.is_extended(res) and amount
    }
    missing = sorted(res for res in extended if not nodes.advertised[res])
    for resource in missing:
        context.add(
            finding(
                "RESOURCE_NOT_ADVERTISED",
                workload.ref,
                f"{workload.base}spec.containers",
                f"No node advertises {resource}: the pod stays Pending (FailedScheduling, "
                f"Insufficient {resource}) or ContainerCreating with no resources available.",
                "Check the SR-IOV device plugin / operator: its config must create this "
                "resource and the NICs must have VFs (kubectl get node -o "
                "jsonpath='{.status.allocatable}').",
            )
        )
    selector = workload.spec.get("nodeSelector") or {}
    selector_key = tuple(sorted((str(k), str(v)) for k, v in selector.items()))
    candidates = nodes.matching(selector)
    if selector and not candidates:
        context.add(
            finding(
                "NODE_SELECTOR_NO_MATCH",
                workload.ref,
                f"{workload.base}spec.nodeSelector",
                f"No known node matches the nodeSelector {dict(selector_key)}.",
                "Correct the nodeSelector or the node labels.",
            )
        )
        return
    if missing or not extended or workload.replicas is None:
        return
    key = (tuple(sorted(extended.items())), selector_key)
    if key not in context._fit_cache:
        fitting = slots = 0
        for name in candidates:
            per_node = min(
                int(nodes.amount(name, res) // amount) for res, amount in extended.items()
            )
            fitting += per_node > 0
            slots += per_node
        context._fit_cache[key] = (fitting, slots, len(candidates))
    fitting, slots, total = context._fit_cache[key]
    if slots < workload.replicas:
        context.add(
            finding(
                "RESOURCE_TOO_FEW_NODES",
                workload.ref,
                f"{workload.base}spec.containers",
                f"{workload.replicas} replica(s) wanted, but only {fitting} of {total} node(s) "
                f"can fit one (room for {slots} pod(s) in all, by allocatable "
                f"{', '.join(sorted(extended))}).",
                "Add nodes or VFs (numVfs), lower the replicas, or request fewer resources "
                "per pod.",
            )
        )


def check_numa(context: Context, workload: Workload, requested: dict[str, float]) -> None:
    index = context.numa
    gpus = requested.get(index.gpu_resource, 0)
    vf_resources = tuple(sorted(res for res in requested if res in context.vf_resources))
    if not gpus or not vf_resources:
        return
    selector = workload.spec.get("nodeSelector") or {}
    hostname = selector.get(manifests.HOSTNAME_LABEL)
    candidates = [hostname] if hostname in index.nodes else None
    if hostname and candidates is None:
        return
    key = (gpus, vf_resources, hostname)
    if key not in context._numa_cache:
        context._numa_cache[key] = _numa_verdict(index, gpus, vf_resources, candidates)
    verdict = context._numa_cache[key]
    if verdict is None:
        return
    numa_ids, max_gpus, local_gpus = verdict
    if len(numa_ids) > 1:
        reason = f"its VFs sit on NUMA nodes {', '.join(map(str, numa_ids))}"
    else:
        reason = f"NUMA node {numa_ids[0]}, where its VFs sit, has {local_gpus} GPU(s)"
    strict = context.facts.topology_policy in STRICT_TOPOLOGY_POLICIES
    context.add(
        finding(
            "NUMA_SPLIT",
            workload.ref,
            f"{workload.base}spec.containers",
            f"The pod's {fmt(gpus)} GPU(s) and {len(vf_resources)} rail VF(s) cannot share one "
            f"NUMA node ({reason}; at most {max_gpus} GPU(s) per NUMA node): RDMA works, but "
            "traffic crosses the socket link and throughput can halve. Topology Manager "
            "single-numa-node cannot admit such a pod (8 GPUs + 8 rails across two sockets "
            "never fit one NUMA node): the kubelet rejects it with TopologyAffinityError.",
            "Use one pod per NUMA node (its GPUs + that socket's rails: layout per-numa), or "
            "keep whole-node pods under the restricted or best-effort policy.",
            severity=ERROR if strict else WARNING,
        )
    )


def _numa_verdict(index: NumaIndex, gpus, vf_resources, candidates):
    """None when some candidate node can align the pod on one NUMA node, else
    (NUMA nodes of its VFs, most GPUs on one NUMA node, GPUs on the VFs' NUMA node)."""
    judged = None
    for name in candidates or index.nodes:
        numa = index.nodes[name]
        placements = [numa.resource_numa.get(resource) for resource in vf_resources]
        if any(place is None for place in placements):
            continue
        numa_ids = sorted(set(placements))
        local_gpus = numa.gpus.get(numa_ids[0], 0)
        if len(numa_ids) == 1 and (not numa.gpus or local_gpus >= gpus):
            return None
        judged = judged or (numa_ids, max(numa.gpus.values(), default=0), local_gpus)
    return judged
