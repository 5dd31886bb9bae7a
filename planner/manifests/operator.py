"""SR-IOV Network Operator objects: SriovNetworks and SriovNetworkNodePolicies per rail."""

from __future__ import annotations

from dataclasses import dataclass

from planner.manifests.addresses import plan_labels
from planner.manifests.common import DEFAULT_SRIOV_NODE_SELECTOR, SRIOV_API_VERSION, ManifestError
from planner.manifests.config import config_json
from planner.manifests.nads import operator_namespace, rail_nics, sorted_rails, whereabouts_ipam
from planner.manifests.options import checked_cni_options, cni_options
from planner.planspec import PlanSpec, RailSpec


def operator_resource_name(plan: PlanSpec, rail: RailSpec) -> str:
    """The resource name without its prefix (the operator adds its RESOURCE_PREFIX)."""
    prefix, slash, name = rail.resource_name.rpartition("/")
    wanted = cni_options(plan).get("resource_prefix")
    if slash and wanted and prefix != wanted:
        raise ManifestError(
            f"rail {rail.index}: resource {rail.resource_name} does not start with the "
            f"operator's resource prefix {wanted}/"
        )
    return name


def _check_operator_plan(plan: PlanSpec) -> dict:
    options = checked_cni_options(plan)
    if plan.cni_type not in ("sriov", "ib-sriov"):
        raise ManifestError(
            f"the SR-IOV Network Operator renders sriov and ib-sriov networks, not {plan.cni_type}"
        )
    prefixes = {rail.resource_name.rpartition("/")[0] for rail in plan.rails}
    if len(prefixes) > 1:
        raise ManifestError(
            "the operator gives every resource one prefix, but the rails use "
            + ", ".join(sorted(prefix or "(none)" for prefix in prefixes))
        )
    return options


def render_sriov_network(plan: PlanSpec, rail: RailSpec) -> dict:
    options = cni_options(plan)
    ib = plan.cni_type == "ib-sriov"
    spec: dict = {
        "resourceName": operator_resource_name(plan, rail),
        "networkNamespace": plan.namespace,
        "ipam": config_json(whereabouts_ipam(plan, rail)),
    }
    if not ib:
        if rail.vlan is not None:
            spec["vlan"] = rail.vlan
            if rail.vlan and "vlan_qos" in options:
                spec["vlanQoS"] = options["vlan_qos"]
            if rail.vlan and "vlan_proto" in options:
                spec["vlanProto"] = options["vlan_proto"]
        for key, out in (("spoofchk", "spoofChk"), ("trust", "trust")):
            if key in options:
                spec[out] = options[key]
    if "link_state" in options:
        spec["linkState"] = options["link_state"]
    if not ib:
        for key, out in (("min_tx_rate", "minTxRate"), ("max_tx_rate", "maxTxRate")):
            if key in options:
                spec[out] = options[key]
    if options.get("rdma"):
        # The CRD field is metaPlugins; the operator docs' "metaPluginsConfig" is pruned.
        spec["metaPlugins"] = config_json({"type": "rdma"})
    return {
        "apiVersion": SRIOV_API_VERSION,
        "kind": "SriovIBNetwork" if ib else "SriovNetwork",
        "metadata": {
            "name": rail.nad_name,
            "namespace": operator_namespace(plan),
            "labels": plan_labels(plan),
        },
        "spec": spec,
    }


def render_sriov_node_policy(plan: PlanSpec, rail: RailSpec) -> dict | None:
    """The node policy creating the rail's VF pool, or None without NIC inventory for the rail."""
    options = cni_options(plan)
    nics = rail_nics(plan, rail.index)
    pf_names = sorted({nic.pf_name for nic in nics if nic.pf_name})
    root_devices = sorted({nic.pci_address for nic in nics if not nic.pf_name and nic.pci_address})
    if not pf_names and not root_devices:
        return None
    nic_selector: dict = {}
    if pf_names:
        nic_selector["pfNames"] = pf_names
    if root_devices:
        nic_selector["rootDevices"] = root_devices
    spec: dict = {
        "resourceName": operator_resource_name(plan, rail),
        "nodeSelector": dict(options.get("node_selector") or DEFAULT_SRIOV_NODE_SELECTOR),
    }
    if "priority" in options:
        spec["priority"] = options["priority"]
    if plan.mtu:
        spec["mtu"] = plan.mtu
    spec["numVfs"] = options.get("num_vfs", max(nic.vf_count for nic in nics))
    spec["nicSelector"] = nic_selector
    spec["deviceType"] = options.get("device_type", "netdevice")
    spec["isRdma"] = options.get("is_rdma", True)
    spec["linkType"] = link_type(plan)
    return {
        "apiVersion": SRIOV_API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {
            "name": rail.nad_name,
            "namespace": operator_namespace(plan),
            "labels": plan_labels(plan),
        },
        "spec": spec,
    }


def render_sriov_networks(plan: PlanSpec) -> list[dict]:
    _check_operator_plan(plan)
    return [render_sriov_network(plan, rail) for rail in sorted_rails(plan)]


def render_sriov_node_policies(plan: PlanSpec) -> list[dict]:
    _check_operator_plan(plan)
    policies = (render_sriov_node_policy(plan, rail) for rail in sorted_rails(plan))
    return [policy for policy in policies if policy is not None]


def render_sriov_operator(plan: PlanSpec) -> list[dict]:
    """SriovNetworks (or SriovIBNetworks) then SriovNetworkNodePolicies, one each per rail.

    A rail without NIC inventory gets no policy (preflight reports NIC_MISSING)."""
    return render_sriov_networks(plan) + render_sriov_node_policies(plan)


def link_type(plan: PlanSpec) -> str:
    default = "ib" if plan.cni_type == "ib-sriov" else "eth"
    return cni_options(plan).get("link_type", default)


@dataclass(frozen=True)
class PodGroup:
    """One kind of pod: all rails on a node, or the rails of one NUMA node."""

    suffix: str  # "" or "-numa0"
    rails: tuple[RailSpec, ...]
    gpus: int
    numa_node: int | None = None
