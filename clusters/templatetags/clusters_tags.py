"""Template helpers for the cluster pages, and the rollout panel the plan page includes."""

from django import template
from django.db.models import OuterRef, Subquery

from clusters.models import ACTIVE_STATES, Rollout
from railstudio.web.forms import PageForm

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


def bound_clusters(plan) -> list[dict]:
    """The plan's clusters, each with its last rollout of this plan and any rollout running on
    it: three queries however many clusters are bound."""
    order = Rollout._meta.ordering
    of_plan = Rollout.objects.filter(cluster=OuterRef("pk"), plan=plan).order_by(*order)
    running = Rollout.objects.filter(cluster=OuterRef("pk"), state__in=ACTIVE_STATES)
    clusters = list(
        plan.clusters.annotate(
            last_id=Subquery(of_plan.values("pk")[:1]),
            busy_id=Subquery(running.order_by(*order).values("pk")[:1]),
        )
    )
    wanted = {pk for cluster in clusters for pk in (cluster.last_id, cluster.busy_id) if pk}
    rollouts = Rollout.objects.in_bulk(wanted) if wanted else {}
    return [
        {
            "cluster": cluster,
            "last": rollouts.get(cluster.last_id),
            "busy": rollouts.get(cluster.busy_id),
        }
        for cluster in clusters
    ]


@register.inclusion_tag("clusters/partials/plan_rollout_panel.html", takes_context=True)
def plan_rollout_panel(context, plan, recent: bool = True):
    """Roll the plan out to its bound clusters; `recent` adds its last few rollouts."""
    clusters = bound_clusters(plan)
    related = ("cluster", "created_by", "rollback_of")
    return {
        "plan": plan,
        "clusters": clusters,
        "recent": plan.rollouts.select_related(*related)[:RECENT_ROLLOUTS] if recent else None,
        "form": context.get("rollout_form") or PageForm(typed={}),
        "refused": context.get("refused"),
        "can_operate": context.get("can_operate"),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
