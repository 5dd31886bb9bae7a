"""Writes that span several models: creating a plan with its carved rails."""

from django.db import transaction

from planner import ipam
from planner.models import Plan, Rail


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


def plan_warnings(plan: Plan) -> list[dict]:
    """Rails whose free pod addresses are fewer than nodes x VFs per node on that rail."""
    warnings = []
    for rail in plan.rails.order_by("index"):
        demand = sum(rail.nics.values_list("vf_count", flat=True))
        if not demand:
            continue
        usage = rail.space().usage()
        if usage.free < demand:
            warnings.append(
                {
                    "code": "RAIL_CAPACITY",
                    "severity": "warning",
                    "object": f"rail {rail.index}",
                    "field": "subnet",
                    "message": (
                        f"Rail {rail.index} ({rail.subnet}) has {usage.free} free pod addresses "
                        f"but its nodes carry {demand} VFs."
                    ),
                    "fix": "Widen the rail subnet or pod range, or remove exclusions.",
                }
            )
    return warnings


def rail_usages(plan: Plan) -> list[dict]:
    result = []
    for rail in plan.rails.order_by("index"):
        entry = rail.space().usage().to_dict()
        entry.update(rail=rail.id, index=rail.index, nad_name=rail.nad_name)
        result.append(entry)
    return result
