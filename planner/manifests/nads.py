"""NetworkAttachmentDefinitions: one per rail, its CNI config with whereabouts IPAM."""

from __future__ import annotations

from collections import Counter

import netaddr

from planner import naming
from planner.manifests.addresses import plan_labels, rail_exclusions
from planner.manifests.common import (
    DEFAULT_OPERATOR_NAMESPACE,
    NAD_API_VERSION,
    NAD_KIND,
    RESOURCE_NAME_ANNOTATION,
    ManifestError,
)
from planner.manifests.config import config_json
from planner.manifests.options import checked_cni_options, cni_options
from planner.planspec import PlanSpec, RailSpec


def sorted_rails(plan: PlanSpec) -> list[RailSpec]:
    return sorted(plan.rails, key=lambda rail: rail.index)


def most_common(values):
    counted = Counter(value for value in values if value not in (None, ""))
    return counted.most_common(1)[0][0] if counted else None


def rail_nics(plan: PlanSpec, index: int):
    return [nic for node in plan.nodes for nic in node.nics if nic.rail_index == index]


def whereabouts_ipam(plan: PlanSpec, rail: RailSpec) -> dict:
    options = cni_options(plan)
    config = {"type": "whereabouts", "range": str(netaddr.IPNetwork(rail.subnet).cidr)}
    if rail.range_start:
        config["range_start"] = rail.range_start
    if rail.range_end:
        config["range_end"] = rail.range_end
    exclude = rail_exclusions(rail)
    if exclude:
        config["exclude"] = exclude
    if rail.gateway:
        config["gateway"] = rail.gateway
    if rail.routes:
        config["routes"] = [dict(route) for route in rail.routes]
    if options.get("network_name"):
        config["network_name"] = naming.render(options["network_name"], rail.index)
    if options.get("node_slice_size"):
        config["node_slice_size"] = options["node_slice_size"]
    if "enable_overlapping_ranges" in options:
        config["enable_overlapping_ranges"] = options["enable_overlapping_ranges"]
    return config


_SRIOV_KEYS = (
    ("spoofchk", "spoofchk"),
    ("trust", "trust"),
    ("link_state", "link_state"),
    ("min_tx_rate", "min_tx_rate"),
    ("max_tx_rate", "max_tx_rate"),
)


_IB_SRIOV_KEYS = (
    ("pkey", "pkey"),
    ("link_state", "link_state"),
    ("rdma_isolation", "rdmaIsolation"),
    ("ib_kubernetes_enabled", "ibKubernetesEnabled"),
)


def _device_fields(plan: PlanSpec, rail: RailSpec, options: dict) -> dict:
    """The plugin's own keys, between `name` and `ipam`."""
    result: dict = {}
    if plan.cni_type == "sriov":
        if rail.vlan is not None:
            result["vlan"] = rail.vlan
            if rail.vlan and "vlan_qos" in options:
                result["vlanQoS"] = options["vlan_qos"]
            if rail.vlan and "vlan_proto" in options:
                result["vlanProto"] = options["vlan_proto"]
        result.update({out: options[key] for key, out in _SRIOV_KEYS if key in options})
    elif plan.cni_type == "ib-sriov":
        result.update({out: options[key] for key, out in _IB_SRIOV_KEYS if key in options})
    elif plan.cni_type == "macvlan":
        master = options.get("master")
        if master:
            result["master"] = naming.render(master, rail.index)
        else:
            pf_name = most_common(nic.pf_name for nic in rail_nics(plan, rail.index))
            if not pf_name:
                raise ManifestError(
                    f"rail {rail.index}: macvlan needs cni_options.master or a NIC PF name"
                )
            result["master"] = pf_name
        if "macvlan_mode" in options:
            result["mode"] = options["macvlan_mode"]
        if plan.mtu:
            result["mtu"] = plan.mtu
    return result


def nad_config(plan: PlanSpec, rail: RailSpec) -> dict:
    """The CNI config of a rail's NAD, as a dict (spec.config is `config_json` of this)."""
    options = checked_cni_options(plan)
    device = {"type": plan.cni_type}
    if options.get("rdma"):
        plugin = {
            **device,
            **_device_fields(plan, rail, options),
            "ipam": whereabouts_ipam(plan, rail),
        }
        return {
            "cniVersion": plan.cni_version,
            "name": rail.nad_name,
            "plugins": [plugin, {"type": "rdma"}],
        }
    return {
        "cniVersion": plan.cni_version,
        **device,
        "name": rail.nad_name,
        **_device_fields(plan, rail, options),
        "ipam": whereabouts_ipam(plan, rail),
    }


def render_nad(plan: PlanSpec, rail: RailSpec) -> dict:
    try:
        config = config_json(nad_config(plan, rail))
    except (netaddr.AddrFormatError, ValueError) as error:
        if isinstance(error, ManifestError):
            raise
        raise ManifestError(f"rail {rail.index}: {error}") from None
    metadata: dict = {
        "name": rail.nad_name,
        "namespace": plan.namespace,
        "labels": plan_labels(plan),
    }
    if rail.resource_name:
        metadata["annotations"] = {RESOURCE_NAME_ANNOTATION: rail.resource_name}
    return {
        "apiVersion": NAD_API_VERSION,
        "kind": NAD_KIND,
        "metadata": metadata,
        "spec": {"config": config},
    }


def render_nads(plan: PlanSpec) -> list[dict]:
    """One NetworkAttachmentDefinition per rail, in rail order."""
    checked_cni_options(plan)
    return [render_nad(plan, rail) for rail in sorted_rails(plan)]


def operator_namespace(plan: PlanSpec) -> str:
    return cni_options(plan).get("operator_namespace", DEFAULT_OPERATOR_NAMESPACE)
