"""Pod pages: a cluster's pods from the last snapshot, one pod's diagram and diagnosis, a live
look inside it (allow-listed commands, operators only).

Mirrors the API (clusters.api.views): the same filters, refresh for viewers (reading pods
changes nothing on the cluster), exec for operators through `services.start_exec`. Partials
refresh in place through htmx; nothing here talks to a cluster itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clusters import execution, pod_svg, services, tasks
from clusters.models import Cluster, ExecRun
from clusters.panels import get_cluster, stamp
from clusters.pod_filters import PodFilters
from planner.findings import CODES, INFO
from railstudio import numbers
from railstudio.roles import OPERATOR
from railstudio.web.access import operator_post, role_required, viewer_required

PER_PAGE = 100
TABLE_POLL_LIMIT = 30  # one poll a second after Refresh
EXEC_POLL_LIMIT = 60  # one poll every 500 ms: ~30 s, past the exec timeout
POD_FIELDS = ("namespace", "name", "node", "phase", "ok", "problems", "codes")
BAD_REQUEST = 400


# ---------------------------------------------------------------------------------------------
# The pods of a cluster


def filter_choices(cluster: Cluster) -> dict:
    pods = cluster.pods.order_by()
    codes = (cluster.inspect_summary or {}).get("by_code", {})
    return {
        "namespaces": pods.values_list("namespace", flat=True).distinct().order_by("namespace"),
        "nodes": pods.exclude(node="").values_list("node", flat=True).distinct().order_by("node"),
        "codes": [
            (code, count)
            for code, count in codes.items()
            if code not in CODES or CODES[code].severity != INFO
        ],
    }


def table_url(cluster: Cluster, filters: PodFilters, **extra) -> str:
    query = filters.query(**extra)
    return reverse("cluster-pods-table", args=[cluster.pk]) + (f"?{query}" if query else "")


def table_poll(request, cluster: Cluster, filters: PodFilters, page: str) -> str:
    """The next poll after Refresh: while the last attempt is the one seen when it was queued."""
    since = request.GET.get("since")
    tries = request.GET.get("tries", "")
    tries = numbers.small_int(tries, 0)
    if since is None or since != stamp(cluster.inspect_attempted_at) or tries >= TABLE_POLL_LIMIT:
        return ""
    return table_url(cluster, filters, page=page, since=since, tries=tries + 1)


def table_context(cluster: Cluster, filters: PodFilters, page_number, poll_url: str = "") -> dict:
    rows = filters.apply(cluster.pods.all()).values(*POD_FIELDS)
    page = Paginator(rows, PER_PAGE).get_page(page_number)
    page.object_list = [dict(row, code_list=row["codes"].split()) for row in page.object_list]
    return {
        "cluster": cluster,
        "filters": filters,
        "page": page,
        "poll_url": poll_url,
        "every_url": table_url(cluster, filters, page=page.number if page.number > 1 else ""),
    }


def render_table(request, cluster: Cluster, filters: PodFilters, poll_url: str = ""):
    context = table_context(cluster, filters, request.GET.get("page"), poll_url)
    return render(request, "clusters/pods/partials/pods_table.html", context)


@viewer_required
def cluster_pods(request, pk):
    cluster = get_cluster(pk)
    filters = PodFilters.read(request.GET)
    if request.htmx and not request.htmx.history_restore_request:
        return render_table(request, cluster, filters)  # the filter form and the pager
    context = table_context(cluster, filters, request.GET.get("page"))
    context.update(filter_choices(cluster))
    return render(request, "clusters/pods/pod_list.html", context)


@viewer_required
def pods_table(request, pk):
    cluster = get_cluster(pk)
    filters = PodFilters.read(request.GET)
    page = request.GET.get("page", "")
    return render_table(request, cluster, filters, table_poll(request, cluster, filters, page))


@require_POST
@viewer_required
def pods_refresh(request, pk):
    """Queue a new snapshot; the table polls until the worker has tried."""
    cluster = get_cluster(pk)
    since = stamp(cluster.inspect_attempted_at)
    services.enqueue(lambda: tasks.refresh_pods.delay(cluster.pk))
    filters = PodFilters.read(request.POST)
    if not request.htmx:
        messages.info(request, f"Refreshing the pods of {cluster.name}.")
        url = reverse("cluster-pods", args=[cluster.pk])
        return redirect(f"{url}?{filters.query()}" if filters.active else url)
    return render_table(
        request, cluster, filters, table_url(cluster, filters, since=since, tries=1)
    )


# ---------------------------------------------------------------------------------------------
# One pod


def pod_cidr_for(cluster: Cluster, namespace: str) -> str | None:
    plans = cluster.plans.order_by("name")
    return (
        plans.filter(namespace=namespace).values_list("pod_cidr", flat=True).first()
        or plans.values_list("pod_cidr", flat=True).first()
    )


@viewer_required
def pod_detail(request, pk, namespace, name):
    cluster = get_cluster(pk)
    row = cluster.pods.filter(namespace=namespace, name=name).first()
    if row is None:
        context = {"cluster": cluster, "namespace": namespace, "name": name}
        return render(request, "clusters/pods/pod_gone.html", context, status=404)
    report = row.report or {}
    context = {
        "cluster": cluster,
        "row": row,
        "report": report,
        "diagram": pod_svg.layout(report, pod_cidr_for(cluster, namespace)),
        "commands": list(execution.ALLOWED),
        "exec": execution.availability(report),
    }
    return render(request, "clusters/pods/pod_detail.html", context)


# ---------------------------------------------------------------------------------------------
# A live look inside a pod


def exec_response(request, run: ExecRun, tries: int, status: int = 200):
    next_url = ""
    if not run.done and tries < EXEC_POLL_LIMIT:
        url = reverse("cluster-exec-run", args=[run.cluster_id, run.pk])
        next_url = f"{url}?tries={tries + 1}"
    context = {"run": run, "next_url": next_url, "timed_out": not run.done and not next_url}
    return render(request, "clusters/pods/partials/exec_run.html", context, status=status)


@operator_post
def pod_exec(request, pk, namespace, name):
    cluster = get_cluster(pk)
    command = request.POST.get("command", "")
    container = request.POST.get("container", "")
    try:
        run = services.start_exec(cluster, namespace, name, command, request.user, container)
    except execution.NotAllowed as error:
        context = {"error": str(error), "allowed": list(execution.ALLOWED)}
        return render(
            request, "clusters/pods/partials/exec_refused.html", context, status=BAD_REQUEST
        )
    return exec_response(request, run, 0)


@role_required(OPERATOR)  # the output may hold secrets (env)
def exec_run(request, pk, run_id):
    run = execution.give_up_if_abandoned(get_object_or_404(ExecRun, pk=run_id, cluster_id=pk))
    tries = request.GET.get("tries", "")
    return exec_response(request, run, numbers.small_int(tries, EXEC_POLL_LIMIT))
