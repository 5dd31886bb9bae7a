"""The Lint YAML page: preflight over pasted or uploaded objects, against a plan, a registered
cluster's live NADs and nodes, or both.

Reading the cluster is a bounded synchronous read on the web thread (clusters.facts.
read_live_facts: two list calls at once, one attempt each, a few seconds at most), not a Celery
task: lint saves nothing, so a task would need somewhere to keep the pasted text and the answer,
and the page would poll for what is usually a 100 ms read. Viewers may use it: it writes nothing,
here or on the cluster."""

from __future__ import annotations

from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clusters import facts
from clusters.kube import KubeError
from clusters.models import Cluster
from clusters.rollout import target_for
from planner import lint as linting
from planner.models import Plan
from railstudio import numbers
from railstudio.web.access import viewer_required
from railstudio.web.htmx import INVALID, fragment_or_page


def _chosen_cluster(key: str) -> tuple[Cluster | None, str | None]:
    if not key:
        return None, None
    cluster = Cluster.objects.filter(pk=key).first() if numbers.is_id(key) else None
    if cluster is None:
        return None, "That cluster is no longer registered; pick another or none."
    return cluster, None


def _cluster_facts(cluster: Cluster) -> tuple[dict | None, dict]:
    """(facts, what the page says about them); facts None when the cluster did not answer."""
    try:
        live = facts.read_live_facts(target_for(cluster))
    except KubeError as error:
        return None, {
            "cluster_error": f"Could not read the NADs of {cluster.name}, so nothing was "
            f"checked: {error}"
        }
    return live.facts, {"live": live, "read_at": timezone.now()}


def _lint(request, context: dict) -> int:
    """Fills the result part of the context; answers the HTTP status (422: the input cannot be
    checked). A cluster that does not answer is said in the page, with 200: the request was
    fine, and htmx swaps only 2xx and 422 answers in."""
    text, input_error = linting.read_input(request)
    plan, plan_error = linting.chosen_plan(request.POST.get("plan", ""))
    cluster, cluster_error = _chosen_cluster(request.POST.get("cluster", ""))
    context.update(
        text=text,
        plan_id=plan.pk if plan else None,
        cluster=cluster,
        cluster_id=cluster.pk if cluster else None,
    )
    error = input_error or plan_error or cluster_error
    if error is None and not text.strip():
        error = "Paste some YAML or choose a file first."
    if error:
        context["error"] = error
        return INVALID
    cluster_facts = None
    if cluster is not None:
        cluster_facts, note = _cluster_facts(cluster)
        context.update(note)
        if cluster_facts is None:
            return 200
    context.update(linting.check(text, plan, cluster_facts))
    return INVALID if context.get("error") else 200


@require_http_methods(["GET", "POST"])
@viewer_required
def lint(request):
    context: dict = {
        "plans": Plan.objects.only("id", "name", "slug"),
        "clusters": Cluster.objects.only("id", "name", "server", "is_lab"),
        "text": "",
    }
    status = _lint(request, context) if request.method == "POST" else 200
    return fragment_or_page(
        request,
        "planner/manifests/lint.html",
        "planner/manifests/partials/lint_panel.html",
        context,
        status=status,
    )
