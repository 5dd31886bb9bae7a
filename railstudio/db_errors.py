"""Database refusals in human words: which rule a write broke, never the database's own text.

Validation runs first (under the row locks of planner.locks), so these fire only when two
writes race past it, or for a value no validator saw. A constraint is known by its name on
PostgreSQL and by its columns on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DataError, IntegrityError


@dataclass(frozen=True)
class Refusal:
    field: str | None
    message: str


RETRY = "Nothing was saved; reload and try again."
# constraint name (PostgreSQL) or "table.column, table.column" (SQLite) -> what it means
CONSTRAINTS = {
    ("rail_unique_index_per_plan", "planner_rail.plan_id, planner_rail.index"): Refusal(
        "index", "The plan already has a rail with this index."
    ),
    ("rail_unique_subnet_per_plan", "planner_rail.plan_id, planner_rail.subnet"): Refusal(
        "subnet", "Another rail of the plan already has this subnet."
    ),
    ("rail_unique_nad_name_per_plan", "planner_rail.plan_id, planner_rail.nad_name"): Refusal(
        "nad_name", "Another rail of the plan already has this NAD name."
    ),
    (
        "rail_unique_interface_name_per_plan",
        "planner_rail.plan_id, planner_rail.interface_name",
    ): Refusal("interface_name", "Another rail of the plan already has this interface name."),
    ("exclusion_no_overlap",): Refusal(
        "cidr", "It overlaps another exclusion of the rail, saved at the same moment."
    ),
    ("node_unique_per_plan", "planner_node.plan_id, planner_node.name"): Refusal(
        "name", "The plan already has a node with this name."
    ),
    ("nic_one_per_node_and_rail", "planner_nodenic.node_id, planner_nodenic.rail_id"): Refusal(
        "rail", "The node already has a NIC on this rail."
    ),
    ("nic_host_ip_unique_per_rail", "planner_nodenic.rail_id, planner_nodenic.host_ip"): Refusal(
        "host_ip", "Another NIC on this rail already has this host IP."
    ),
    ("planner_plan_slug_key", "planner_plan.slug"): Refusal(
        "slug", "Another plan already has this slug."
    ),
    ("planner_plan_name_key", "planner_plan.name"): Refusal(
        "name", "Another plan already has this name."
    ),
    ("clusters_cluster_name_key", "clusters_cluster.name"): Refusal(
        "name", "Another cluster already has this name."
    ),
    ("one_active_rollout_per_cluster", "clusters_rollout.cluster_id"): Refusal(
        None, "Another rollout of this cluster is pending or running."
    ),
}
_BY_KEY = {key: refusal for keys, refusal in CONSTRAINTS.items() for key in keys}


def _constraint_name(error: Exception) -> str | None:
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", None)


def _sqlite_columns(error: Exception) -> str | None:
    text = str(error)
    marker = "UNIQUE constraint failed: "
    return text.split(marker, 1)[1].strip() if marker in text else None


def describe(error: Exception) -> Refusal:
    """What a database refusal means, for a 409 (IntegrityError) or a 400 (DataError)."""
    if isinstance(error, IntegrityError):
        for key in (_constraint_name(error), _sqlite_columns(error)):
            if key and key in _BY_KEY:
                known = _BY_KEY[key]
                return Refusal(known.field, f"{known.message} {RETRY}")
        return Refusal(None, f"The change conflicts with data saved at the same moment. {RETRY}")
    if isinstance(error, DataError):
        return Refusal(
            None, "A value is too long, out of range or holds characters the database cannot store."
        )
    return Refusal(None, "The database refused the change. " + RETRY)
