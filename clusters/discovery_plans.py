"""A cluster's discovered nodes against its bound plans: the comparisons the cluster page shows,
and the import into a plan's inventory that the page and the API share."""

from __future__ import annotations

import yaml

from clusters import discovery
from planner import inventory

SHOWN_ROWS = 60


def comparison(plan, discovered: list[dict]) -> dict:
    rows = discovery.compare(plan.to_spec(), discovered)
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


def comparisons(cluster) -> list[dict]:
    return [comparison(plan, cluster.discovery) for plan in cluster.plans.order_by("name")]


def import_discovered(plan, discovered: list[dict]) -> dict[str, int]:
    """Write the discovered nodes and NICs into the plan's inventory, through the same checks as
    an uploaded file (raises inventory.InventoryError naming each refused field)."""
    documents = discovery.inventory_nodes(plan.to_spec(), discovered)
    return inventory.import_nodes(plan, inventory.parse_yaml(yaml.safe_dump(documents)))
