"""Starting validations, shared by the pages, the API and the schedule: checking a request
(every error names its field), recording it, queueing it once committed."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clusters import tasks
from clusters.models import Cluster, Validation, ValidationSchedule, ValidationState
from clusters.validation import MODES, runner
from planner import naming
from planner.models import Plan
from railstudio.queueing import QueueUnavailable, enqueue


class RequestInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def find_plan(cluster: Cluster, value) -> Plan | None:
    """A plan bound to the cluster, by id or slug."""
    plans = cluster.plans.all()
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return plans.filter(pk=int(value)).first()
    if isinstance(value, str) and value:
        return plans.filter(slug=value).first()
    return None


def known_nodes(cluster: Cluster, plan: Plan) -> list[str]:
    """The nodes a validation of the plan on the cluster may name: the plan's inventory, else
    the nodes node discovery found on the cluster."""
    names = list(plan.nodes.order_by("name").values_list("name", flat=True))
    if names:
        return names
    return sorted(
        {
            str(n.get("name"))
            for n in cluster.discovery or []
            if isinstance(n, dict) and n.get("name")
        }
    )


def check_request(cluster: Cluster, data: dict) -> tuple[Plan, str, list[str]]:
    errors: dict[str, list[str]] = {}
    plan_value = data.get("plan")
    plan = None
    if plan_value in (None, ""):
        errors["plan"] = ["Name the plan to validate (its id or slug)."]
    elif not isinstance(plan_value, int | str) or isinstance(plan_value, bool):
        errors["plan"] = ["Give the plan's id (a number) or slug (a string)."]
    else:
        plan = find_plan(cluster, plan_value)
        if plan is None:
            bound = (
                ", ".join(cluster.plans.order_by("slug").values_list("slug", flat=True)) or "none"
            )
            errors["plan"] = [
                f"No plan {str(plan_value)[:63]!r} is bound to cluster {cluster.name} (bound: {bound})."
            ]
    mode = data.get("mode", "quick")
    if mode not in MODES:
        errors["mode"] = [f"Choose one of {', '.join(MODES)}; got {str(mode)[:20]!r}."]
    nodes = data.get("nodes") or []
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        errors["nodes"] = ["Give a list of node names."]
        nodes = []
    elif plan is not None and nodes:
        allowed = known_nodes(cluster, plan)
        bad = [n for n in nodes if naming.dns1123_error(n) is not None or len(n) > 253]
        unknown = [n for n in nodes if n not in allowed and n not in bad]
        if len(nodes) > max(len(allowed), 1):
            errors["nodes"] = [f"At most {len(allowed)} nodes (those of plan {plan.slug})."]
        elif len(set(nodes)) != len(nodes):
            errors["nodes"] = ["A node is named twice."]
        elif bad:
            errors["nodes"] = [f"{bad[0][:64]!r} is not a valid node name."]
        elif not allowed:
            errors["nodes"] = [
                f"Plan {plan.slug} lists no nodes and the cluster's nodes were never discovered; "
                "leave nodes out to test every node that offers the plan's VFs."
            ]
        elif unknown:
            errors["nodes"] = [
                f"{', '.join(unknown[:5])} {'is' if len(unknown) == 1 else 'are'} not a node of "
                f"{'plan ' + plan.slug if plan.nodes.exists() else 'cluster ' + cluster.name} "
                f"({', '.join(allowed[:8])}{'…' if len(allowed) > 8 else ''})."
            ]
    if len(nodes) > settings.VALIDATION_MAX_NODES and "nodes" not in errors:
        errors["nodes"] = [f"At most {settings.VALIDATION_MAX_NODES} nodes."]
    if errors:
        raise RequestInvalid(errors)
    return plan, mode, list(nodes)


def _send(validation_id: int) -> None:
    try:
        enqueue(lambda: tasks.run_validation.delay(validation_id))
    except QueueUnavailable as error:
        Validation.objects.filter(pk=validation_id, state=ValidationState.PENDING).update(
            state=ValidationState.FAILED, message=str(error), finished_at=timezone.now()
        )


def start(cluster: Cluster, plan: Plan, user, *, mode: str, nodes=None, **options) -> Validation:
    validation = runner.request_validation(cluster, plan, user, mode=mode, nodes=nodes, **options)
    transaction.on_commit(lambda: _send(validation.pk))
    return validation


def start_due(now=None) -> list[Validation]:
    """Start the validations whose schedule is due (and whose cluster runs none)."""
    now = now or timezone.now()
    started = []
    for item in ValidationSchedule.objects.filter(enabled=True).select_related("cluster", "plan"):
        last = item.last_run_at
        if last is not None and (now - last).total_seconds() < item.interval_minutes * 60:
            continue
        try:
            with transaction.atomic():
                validation = start(item.cluster, item.plan, None, mode=item.mode, scheduled=True)
                item.last_run_at = now
                item.save(update_fields=["last_run_at"])
        except runner.ValidationConflict:
            continue
        started.append(validation)
    return started
