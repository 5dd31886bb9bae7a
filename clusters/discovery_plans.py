"""A cluster's discovered nodes against its bound plans: the comparisons the cluster page shows,
and the import into a plan's inventory that the page and the API share."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from clusters import discovery
from planner import inventory, plancache
from planner.models import Node, NodeNIC, Plan, Rail
from planner.planspec import NICSpec

SHOWN_ROWS = 60
REMEMBERED = 64


@dataclass(frozen=True)
class RailRef:
    index: int
    resource_name: str


@dataclass(frozen=True)
class NodeRef:
    name: str
    gpu_count: int
    nics: tuple[NICSpec, ...]


@dataclass(frozen=True)
class Inventory:
    """What discovery.compare reads of a plan: its rails' resources, its nodes and NICs."""

    rails: tuple[RailRef, ...]
    nodes: tuple[NodeRef, ...]


def inventories(plans: list[Plan]) -> dict[int, Inventory]:
    """The inventories of several plans in three queries, whatever their number."""
    by_id = {plan.pk: plan for plan in plans}
    rails: dict[int, list[RailRef]] = {pk: [] for pk in by_id}
    rail_index: dict[int, int] = {}
    for rail in Rail.objects.filter(plan__in=plans).order_by("plan_id", "index"):
        rail.plan = by_id[rail.plan_id]  # resource_name reads the plan's template
        rails[rail.plan_id].append(RailRef(rail.index, rail.resource_name))
        rail_index[rail.pk] = rail.index
    nics: dict[int, list[NICSpec]] = {}
    fields = ("node_id", "rail_id", "pf_name", "pci_address", "vf_count")
    nic_rows = NodeNIC.objects.filter(node__plan__in=plans).order_by().values_list(*fields)
    for node_id, rail_id, pf_name, pci_address, vf_count in nic_rows:
        nic = NICSpec(rail_index=rail_index[rail_id], pf_name=pf_name, pci_address=pci_address)
        nics.setdefault(node_id, []).append(replace(nic, vf_count=vf_count))
    nodes: dict[int, list[NodeRef]] = {pk: [] for pk in by_id}
    node_rows = Node.objects.filter(plan__in=plans).order_by("plan_id", "name")
    for pk, plan_id, name, gpus in node_rows.values_list("pk", "plan_id", "name", "gpu_count"):
        found = tuple(sorted(nics.get(pk, ()), key=lambda nic: nic.rail_index))
        nodes[plan_id].append(NodeRef(name, gpus, found))
    return {pk: Inventory(tuple(rails[pk]), tuple(nodes[pk])) for pk in by_id}


def comparison(plan: Plan, inventory: Inventory, discovered: list[dict]) -> dict:
    rows = discovery.compare(inventory, discovered)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    different = [row for row in rows if row["status"] != "match"]
    return {
        "plan": plan,
        "counts": counts,
        "rows": different[:SHOWN_ROWS],
        "more": max(0, len(different) - SHOWN_ROWS),
    }


_remembered: OrderedDict[tuple, dict] = OrderedDict()


def comparisons(cluster) -> list[dict]:
    """Each bound plan against what discovery found: a fixed number of queries however many
    plans are bound, and compared again only when the discovery or a plan's inventory changed
    (a worker process remembers the last REMEMBERED comparisons)."""
    if not cluster.discovered_at:
        return []
    plans = list(cluster.plans.order_by("name"))
    result = []
    for plan, planned in zip(plans, inventories(plans).values(), strict=True):
        key = (cluster.pk, cluster.discovered_at, plan.pk, hash(planned))
        if key not in _remembered:
            _remembered[key] = comparison(plan, planned, cluster.discovery or [])
            while len(_remembered) > REMEMBERED:
                _remembered.popitem(last=False)
        result.append({**_remembered[key], "plan": plan})
    return result


def import_discovered(plan, discovered: list[dict]) -> dict[str, int]:
    """Write the discovered nodes and NICs into the plan's inventory, through the same checks as
    an uploaded file (raises inventory.InventoryError naming each refused field)."""
    documents = discovery.inventory_nodes(plancache.spec(plan), discovered)
    return inventory.import_nodes(plan, inventory.parse_documents(documents))
