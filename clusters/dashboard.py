"""The home page's figures: the whole estate at a glance, in a few queries per section.

Each function feeds one partial of `templates/dashboard/` (the page polls them separately):
clusters with their last rollout and pod counts, plans with per-rail utilisation and the
clusters bound to them, the latest rollouts, and the pods of the last snapshots that have
problems. Pod counts come from each cluster's `inspect_summary`; no pod report is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Subquery

from clusters.models import Cluster, PodStatus, Rollout
from planner.models import Plan
from planner.services import rail_states
from planner.views import UsageRow

LATEST_ROLLOUTS = 8
PROBLEM_PODS = 25
PROBLEM_FIELDS = (
    "cluster_id",
    "cluster__name",
    "namespace",
    "name",
    "node",
    "phase",
    "problems",
    "codes",
)


@dataclass(frozen=True)
class ClusterRow:
    cluster: Cluster
    last: Rollout | None

    @property
    def summary(self) -> dict:
        return self.cluster.inspect_summary or {}

    @property
    def inspected(self) -> bool:
        return self.cluster.inspected_at is not None

    @property
    def stale(self) -> bool:
        return bool(self.cluster.inspect_error)

    @property
    def pods(self) -> int:
        return self.summary.get("pods", 0)

    @property
    def pods_ok(self) -> int:
        return self.summary.get("ok", 0)

    @property
    def pods_with_problems(self) -> int:
        return self.summary.get("with_problems", 0)


def cluster_rows() -> list[ClusterRow]:
    last = Rollout.objects.filter(cluster=OuterRef("pk")).order_by("-created_at", "-id")
    clusters = list(
        Cluster.objects.prefetch_related("plans").annotate(
            last_rollout_id=Subquery(last.values("pk")[:1])
        )
    )
    latest = Rollout.objects.in_bulk([c.last_rollout_id for c in clusters if c.last_rollout_id])
    return [ClusterRow(cluster, latest.get(cluster.last_rollout_id)) for cluster in clusters]


def estate_totals(rows: list[ClusterRow]) -> dict:
    return {
        "clusters": len(rows),
        "reachable": sum(1 for row in rows if row.cluster.reachable),
        "drifted": sum(1 for row in rows if row.cluster.drifted),
        "pods": sum(row.pods for row in rows),
        "pods_ok": sum(row.pods_ok for row in rows),
        "pods_with_problems": sum(row.pods_with_problems for row in rows),
        "stale": sum(1 for row in rows if row.inspected and row.stale),
    }


@dataclass(frozen=True)
class PlanCard:
    plan: Plan
    rows: list[UsageRow]
    clusters: list[Cluster]


def plan_cards() -> list[PlanCard]:
    plans = Plan.objects.annotate(node_count=Count("nodes", distinct=True)).prefetch_related(
        Prefetch("clusters", queryset=Cluster.objects.order_by("name"))
    )
    return [
        PlanCard(
            plan,
            [UsageRow(state.rail, state.usage) for state in rail_states(plan)],
            list(plan.clusters.all()),
        )
        for plan in plans
    ]


def latest_rollouts(limit: int = LATEST_ROLLOUTS) -> list[Rollout]:
    related = ("cluster", "plan", "created_by", "rollback_of")
    return list(Rollout.objects.select_related(*related)[:limit])


def problem_pods(limit: int = PROBLEM_PODS) -> tuple[list[dict], int]:
    """The pods with problems (most problems first), at most `limit`, and how many there are."""
    rows = PodStatus.objects.filter(ok=False)
    first = rows.order_by("-problems", "cluster__name", "namespace", "name").values(
        *PROBLEM_FIELDS
    )[:limit]
    pods = [dict(row, code_list=row["codes"].split()) for row in first]
    return pods, rows.count() if len(pods) == limit else len(pods)


def stale_clusters() -> list[Cluster]:
    """Clusters whose last pod refresh failed: their pods are as of an older snapshot."""
    return list(Cluster.objects.exclude(inspect_error="").only("name", "inspected_at"))


def clusters_context() -> dict:
    rows = cluster_rows()
    return {"cluster_rows": rows, "totals": estate_totals(rows)}


def plans_context() -> dict:
    return {"cards": plan_cards()}


def rollouts_context() -> dict:
    return {"rollouts": latest_rollouts()}


def problems_context() -> dict:
    pods, total = problem_pods()
    return {
        "problem_pods": pods,
        "problem_total": total,
        "snapshots": Cluster.objects.exclude(inspected_at=None).count(),
        "stale_clusters": stale_clusters(),
    }


SECTIONS = {
    "clusters": clusters_context,
    "plans": plans_context,
    "rollouts": rollouts_context,
    "problems": problems_context,
}


def overview() -> dict:
    context: dict = {}
    for build in SECTIONS.values():
        context.update(build())
    return context
