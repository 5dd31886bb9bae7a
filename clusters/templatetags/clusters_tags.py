"""Template helpers for the cluster pages, and the rollout panel the plan page includes."""

from django import template
from django.db.models import OuterRef, Subquery

from clusters.forms import PlanRolloutForm
from clusters.models import ACTIVE_STATES, Rollout

register = template.Library()

RECENT_ROLLOUTS = 5


@register.filter
def difflines(text: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs, for colouring."""
    pairs = []
    for line in (text or "").splitlines():
        if line.startswith(("+++", "---")):
            css = "d-file"
        elif line.startswith("@@"):
            css = "d-hunk"
        elif line.startswith("#"):
            css = "d-head"
        else:
            css = {"+": "d-add", "-": "d-del"}.get(line[:1], "d-ctx")
        pairs.append((css, line))
    return pairs


@register.filter
def any_diff(rows) -> bool:
    return any(row.diff for row in rows)


@register.inclusion_tag("clusters/partials/plan_rollout_panel.html", takes_context=True)
def plan_rollout_panel(context, plan, recent: bool = True):
    """Roll the plan out to its bound clusters; `recent` adds its last few rollouts."""
    newest = Rollout.objects.filter(cluster=OuterRef("pk")).order_by("-created_at", "-id")
    bound = list(
        plan.clusters.annotate(
            last_id=Subquery(newest.filter(plan=plan).values("pk")[:1]),
            busy_id=Subquery(newest.filter(state__in=ACTIVE_STATES).values("pk")[:1]),
        )
    )
    ids = {c.last_id for c in bound} | {c.busy_id for c in bound}
    records = Rollout.objects.in_bulk(ids - {None})
    clusters = [
        {"cluster": c, "last": records.get(c.last_id), "busy": records.get(c.busy_id)}
        for c in bound
    ]
    related = ("cluster", "created_by", "rollback_of")
    return {
        "plan": plan,
        "clusters": clusters,
        "recent": plan.rollouts.select_related(*related)[:RECENT_ROLLOUTS] if recent else None,
        "form": context.get("rollout_form") or PlanRolloutForm(plan=plan),
        "refused": context.get("refused"),
        "can_operate": context.get("can_operate"),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
