"""What a cluster says about its nodes and NICs, and how that compares with the plan. Pure.

Nodes give GPU and VF allocatable; where the SR-IOV Network Operator runs, its
SriovNetworkNodeStates give each PF's name, PCI address, VF counts and link speed. A PF belongs
to a rail when one of its VF groups feeds that rail's resource (`rail3_vf` for
`nvidia.com/rail3_vf`), else when its name or PCI address matches the planned NIC.
"""

from __future__ import annotations

from planner.planspec import PlanSpec

GPU_RESOURCE = "nvidia.com/gpu"


def _int(value) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def parse(nodes: list[dict], node_states: list[dict]) -> list[dict]:
    states = {state["metadata"]["name"]: state for state in node_states}
    result = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        desired = {
            iface.get("pciAddress"): iface
            for iface in ((states.get(name) or {}).get("spec") or {}).get("interfaces") or []
        }
        nics = []
        for iface in ((states.get(name) or {}).get("status") or {}).get("interfaces") or []:
            groups = (desired.get(iface.get("pciAddress")) or {}).get("vfGroups") or []
            nics.append(
                {
                    "pf_name": iface.get("name", ""),
                    "pci_address": iface.get("pciAddress", ""),
                    "num_vfs": _int(iface.get("numVfs")),
                    "total_vfs": _int(iface.get("totalvfs")),
                    "link_speed": iface.get("linkSpeed", ""),
                    "link_type": iface.get("linkType", ""),
                    "resource_names": sorted({g.get("resourceName", "") for g in groups} - {""}),
                }
            )
        result.append(
            {
                "name": name,
                "labels": node["metadata"].get("labels") or {},
                "gpus": _int(allocatable.get(GPU_RESOURCE)),
                "vf_resources": {
                    res: _int(qty)
                    for res, qty in allocatable.items()
                    if "/" in res and res != GPU_RESOURCE
                },
                "nics": nics,
            }
        )
    return result


def rail_of(nic: dict, plan: PlanSpec, planned_nics: dict[int, object]) -> int | None:
    for rail in plan.rails:
        short = rail.resource_name.split("/", 1)[-1]
        if short in nic["resource_names"] or rail.resource_name in nic["resource_names"]:
            return rail.index
    for index, planned in planned_nics.items():
        if nic["pf_name"] and nic["pf_name"] == planned.pf_name:
            return index
        if nic["pci_address"] and nic["pci_address"] == planned.pci_address:
            return index
    return None


def compare(plan: PlanSpec, discovered: list[dict]) -> list[dict]:
    """Rows of {node, rail, field, planned, discovered, status}; status is one of match,
    differs, missing-in-cluster, missing-in-plan."""
    rows: list[dict] = []

    def row(node, rail, field, planned, found):
        if planned is None:
            status = "missing-in-plan"
        elif found is None:
            status = "missing-in-cluster"
        else:
            status = "match" if planned == found else "differs"
        rows.append(
            {
                "node": node,
                "rail": rail,
                "field": field,
                "planned": planned,
                "discovered": found,
                "status": status,
            }
        )

    found_nodes = {node["name"]: node for node in discovered}
    planned_nodes = {node.name: node for node in plan.nodes}
    for name in sorted(set(found_nodes) | set(planned_nodes)):
        planned, found = planned_nodes.get(name), found_nodes.get(name)
        if planned is None or found is None:
            row(name, None, "node", name if planned else None, name if found else None)
            continue
        row(name, None, "gpu_count", planned.gpu_count, found["gpus"])
        planned_nics = {nic.rail_index: nic for nic in planned.nics}
        found_nics = {}
        for nic in found["nics"]:
            index = rail_of(nic, plan, planned_nics)
            if index is not None:
                found_nics[index] = nic
        for rail in plan.rails:
            mine, theirs = planned_nics.get(rail.index), found_nics.get(rail.index)
            advertised = found["vf_resources"].get(rail.resource_name)
            if mine is None and theirs is None:
                if advertised:
                    row(name, rail.index, "vf_resource", None, advertised)
                continue
            if theirs is None:
                row(name, rail.index, "vf_allocatable", mine.vf_count, advertised)
                continue
            if mine is None:
                row(name, rail.index, "pf_name", None, theirs["pf_name"])
                continue
            row(name, rail.index, "pf_name", mine.pf_name or None, theirs["pf_name"])
            row(name, rail.index, "pci_address", mine.pci_address or None, theirs["pci_address"])
            row(name, rail.index, "vf_count", mine.vf_count, theirs["num_vfs"])
            row(name, rail.index, "vf_allocatable", mine.vf_count, advertised)
    return rows


def inventory_nodes(plan: PlanSpec, discovered: list[dict]) -> list[dict]:
    """Discovered nodes as planner inventory documents ({name, gpu_count, labels, nics})."""
    nodes = []
    for found in discovered:
        planned = next((node for node in plan.nodes if node.name == found["name"]), None)
        planned_nics = {nic.rail_index: nic for nic in planned.nics} if planned else {}
        nics = []
        for nic in found["nics"]:
            index = rail_of(nic, plan, planned_nics)
            if index is not None:
                nics.append(
                    {
                        "rail": index,
                        "pf_name": nic["pf_name"],
                        "pci_address": nic["pci_address"],
                        "vf_count": nic["num_vfs"],
                    }
                )
        labels = {
            k: v
            for k, v in found["labels"].items()
            if k == "kubernetes.io/hostname" or "sriov" in k or "gpu" in k
        }
        nodes.append(
            {"name": found["name"], "gpu_count": found["gpus"], "labels": labels, "nics": nics}
        )
    return nodes
