"""Writes that span several models, and plan-wide figures computed in a few queries."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Sum

from planner import ipam
from planner.models import Exclusion, NodeNIC, Plan, Rail


@transaction.atomic
def create_plan(**fields) -> Plan:
    """Create a plan; with a supernet, carve `rail_count` consecutive rails of the prefix length."""
    plan = Plan.objects.create(**fields)
    if plan.supernet:
        subnets = ipam.carve(plan.supernet, plan.rail_prefix_length, plan.rail_count)
        Rail.objects.bulk_create(
            Rail(plan=plan, index=index, subnet=subnet) for index, subnet in enumerate(subnets)
        )
    return plan


@dataclass(frozen=True)
class RailState:
    rail: Rail
    usage: ipam.RailUsage
    vf_demand: int  # VFs the plan's nodes carry on this rail: pods that may want an address


def rail_states(plan: Plan, revision=None) -> list[RailState]:
    """Every rail's figures, kept per plan revision (planner.plancache); `revision` when the
    caller has it from plancache.revision_of."""
    from planner import plancache

    if revision is None:
        revision = plancache.revision_of(plan)
    compute = lambda: rail_states_by_plan([plan])[plan.pk]  # noqa: E731
    return plancache.cached(plan, "rail-states", None, compute, revision)


def rail_states_by_plan(plans) -> dict[int, list[RailState]]:
    """Every rail's figures of the plans from three queries, whatever their number and size.

    Host IPs are counted in SQL rather than read: allocation and validation keep every host IP
    inside its rail's usable span and outside its exclusions, so the count is exact.
    """
    by_id = {plan.pk: plan for plan in plans}
    rails = list(Rail.objects.filter(plan_id__in=by_id).order_by("plan_id", "index"))
    exclusions: dict[int, list[ipam.Span]] = {rail.id: [] for rail in rails}
    for rail_id, first, last, first_ip, last_ip in (
        Exclusion.objects.order_by()
        .filter(rail__plan_id__in=by_id)
        .values_list("rail_id", "first_int", "last_int", "first_ip", "last_ip")
    ):
        if first is None:
            first, last = ipam.ip_to_int(first_ip), ipam.ip_to_int(last_ip)
        exclusions[rail_id].append((first, last))
    counts = {
        row["rail_id"]: row
        for row in NodeNIC.objects.order_by()
        .filter(rail__plan_id__in=by_id)
        .values("rail_id")
        .annotate(hosts=Count("host_ip"), vfs=Sum("vf_count"))
    }
    states: dict[int, list[RailState]] = {plan_id: [] for plan_id in by_id}
    for rail in rails:
        rail.plan = by_id[rail.plan_id]
        row = counts.get(rail.id, {"hosts": 0, "vfs": 0})
        usage = ipam.usage_from_counts(
            rail.subnet, exclusions[rail.id], row["hosts"], rail.range_start, rail.range_end
        )
        states[rail.plan_id].append(RailState(rail=rail, usage=usage, vf_demand=row["vfs"] or 0))
    return states


def capacity_warnings(states: list[RailState]) -> list[dict]:
    """Rails whose free pod addresses are fewer than nodes x VFs per node on that rail."""
    warnings = []
    for state in states:
        free = state.usage.free
        if state.vf_demand and free < state.vf_demand:
            warnings.append(
                {
                    "code": "RAIL_CAPACITY",
                    "severity": "warning",
                    "object": f"rail {state.rail.index}",
                    "field": "subnet",
                    "message": (
                        f"Rail {state.rail.index} ({state.rail.subnet}) has {free} free pod "
                        f"addresses but its nodes carry {state.vf_demand} VFs."
                    ),
                    "fix": "Widen the rail subnet or pod range, or remove exclusions.",
                }
            )
    return warnings


def usages(states: list[RailState]) -> list[dict]:
    result = []
    for state in states:
        entry = state.usage.to_dict()
        entry.update(rail=state.rail.id, index=state.rail.index, nad_name=state.rail.nad_name)
        result.append(entry)
    return result


def plan_warnings(plan: Plan, revision=None) -> list[dict]:
    return capacity_warnings(rail_states(plan, revision))


def rail_usages(plan: Plan, revision=None) -> list[dict]:
    return usages(rail_states(plan, revision))
