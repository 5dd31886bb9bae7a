"""Row locks for writes to a plan, and the one order every writer takes them in.

Lock order (so no two writers can wait on each other in a cycle):
  1. the plan row: writes that need the plan's set of rails to hold still (adding, editing or
     renumbering a rail; editing the plan's name templates);
  2. rail rows, in ascending index order (ties by id): writes to what lives in a rail
     (exclusions, NIC host IPs, host-IP allocation, node imports).
A writer may skip a level but never goes back up: nothing holding a rail lock asks for its plan.

Each lock is SELECT ... FOR NO KEY UPDATE OF the row itself (`of=("self",)`): it serialises our
writers, does not block PostgreSQL's foreign-key checks (FOR KEY SHARE) when an exclusion or NIC
referencing the row is inserted, and never locks a joined row by accident (a select_related plan
locked along with its rail was the deadlock of issue 11). Validation runs after the lock is
taken, so what it reads cannot change before the write. SQLite serialises writers by itself and
ignores these calls. Callers must be inside transaction.atomic().
"""

from __future__ import annotations

from collections.abc import Iterable

from planner.models import Plan, Rail


def for_update(queryset):
    """The queryset's rows locked as every writer here locks them (inside a transaction)."""
    return queryset.select_for_update(no_key=True, of=("self",))


def lock_plan(plan_id: int) -> Plan:
    return for_update(Plan.objects.all()).get(pk=plan_id)


def lock_rail(rail_id: int) -> Rail:
    return for_update(Rail.objects.select_related("plan")).get(pk=rail_id)


def lock_rails(rail_ids: Iterable[int]) -> list[Rail]:
    """The rails, locked one statement in index order (PostgreSQL locks rows as it returns them)."""
    ids = sorted(set(rail_ids))
    if not ids:
        return []
    return list(
        for_update(Rail.objects.select_related("plan").filter(pk__in=ids)).order_by("index", "pk")
    )


def lock_plan_rails(plan_id: int) -> list[Rail]:
    return list(
        for_update(Rail.objects.select_related("plan").filter(plan_id=plan_id)).order_by(
            "index", "pk"
        )
    )
