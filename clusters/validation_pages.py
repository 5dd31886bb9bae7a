"""The validation pages: start a run from the cluster or plan page, watch it (htmx polls the
live part every second while it runs), read its heatmaps and findings, compare it with the
previous run, download a self-contained HTML report or the JSON; a cluster's schedule.

Reads need the viewer role, every POST the operator role."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from clusters.api.validation_serializers import ValidationDetailSerializer
from clusters.api.validation_views import previous_run
from clusters.models import Cluster, Validation, ValidationSchedule
from clusters.validation import MODES, compare, heatmap, liveness, runner, services
from planner.models import Plan
from railstudio.web.access import operator_post, viewer_required

FINDINGS_SHOWN = 200
RUNS_PER_PAGE = 25


def _back(request, fallback: str):
    target = request.POST.get("next") or fallback
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


def _start(request, cluster: Cluster, data: dict, fallback: str):
    try:
        plan, mode, nodes = services.check_request(cluster, data)
        with transaction.atomic():
            run = services.start(cluster, plan, request.user, mode=mode, nodes=nodes)
    except services.RequestInvalid as error:
        for field, reasons in error.errors.items():
            messages.error(request, f"{field}: {' '.join(reasons)}")
        return _back(request, fallback)
    except runner.ValidationConflict as error:
        messages.error(request, str(error))
        return _back(request, fallback)
    return redirect(run)


@operator_post
def cluster_validation_start(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    data = {"plan": request.POST.get("plan", ""), "mode": request.POST.get("mode", "quick")}
    return _start(request, cluster, data, cluster.get_absolute_url())


@operator_post
def plan_validation_start(request, slug):
    plan = get_object_or_404(Plan, slug=slug)
    fallback = reverse("plan-validations", args=[plan.slug])
    value = request.POST.get("cluster", "")
    cluster = plan.clusters.filter(pk=value).first() if value.isdigit() else None
    if cluster is None:
        messages.error(request, "cluster: choose a cluster the plan is bound to.")
        return _back(request, fallback)
    data = {"plan": plan.slug, "mode": request.POST.get("mode", "quick")}
    return _start(request, cluster, data, fallback)


@viewer_required
def plan_validations(request, slug):
    """A plan's validation runs on every cluster, newest first, and where to start one."""
    plan = get_object_or_404(Plan, slug=slug)
    liveness.reap()
    runs = Paginator(
        plan.validations.select_related("cluster", "created_by").defer("findings", "facts"),
        RUNS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    context = {
        "plan": plan, "runs": runs, "modes": MODES,
        "clusters": list(plan.clusters.order_by("name")),
    }  # fmt: skip
    return render(request, "clusters/plan_validations.html", context)


def _run(pk: int) -> Validation:
    runs = Validation.objects.select_related("cluster", "plan", "created_by")
    run = get_object_or_404(runs, pk=pk)
    if liveness.is_stale(run):  # show a run whose worker died as ended, not running
        liveness.reap(run.cluster_id)
        run = runs.get(pk=pk)
    return run


def order_of(run: Validation, datas: list[dict] | None = None) -> list[int]:
    """Node indexes in display order (failing first), as the run stored it."""
    order = run.summary.get("order")
    if isinstance(order, list) and len(order) == len(run.nodes):
        return order
    datas = datas if datas is not None else [row.data for row in run.rails.all()]
    return heatmap.node_order(run.nodes, datas)


def live_context(run: Validation) -> dict:
    """The run, its findings, comparison and rails. Big runs' heatmaps are images fetched
    apart, so their matrices are not read here."""
    big = len(run.nodes) > heatmap.SVG_CELL_LIMIT
    rails = []
    if not run.is_active:
        rows = run.rails.defer("data") if big else run.rails.all()
        datas = [] if big else [row.data for row in rows]
        order = order_of(run, None if big else datas)
        for row in rows:
            summary = row.summary or compare.rail_summary(row.data)
            url = reverse("validation-heatmap", args=[run.pk, row.rail])
            svg = (
                heatmap.image_svg(row.rail, len(run.nodes), url)
                if big
                else heatmap.svg(row.data, run.nodes, order)
            )
            rails.append({"data": summary, "svg": svg, "failing": summary["failing"]})
    else:
        order = []
    previous = previous_run(run) if not run.is_active else None
    changes = compare.compare(run.findings, previous.findings if previous else None)
    if previous is not None:
        before = {row.rail: row.summary.get("failing") for row in previous.rails.defer("data")}
        for rail in rails:
            rail["previously"] = before.get(rail["data"]["rail"])
    return {
        "run": run,
        "rails": rails,
        "findings": run.findings[:FINDINGS_SHOWN],
        "more_findings": max(len(run.findings) - FINDINGS_SHOWN, 0),
        "counts": run.summary.get("counts") or {},
        "previous": previous,
        "changes": changes,
        "failing_nodes": [run.nodes[i] for i in order[:10]] if order else [],
        "raster": big,
        "duration": (run.finished_at - run.started_at).total_seconds()
        if run.started_at and run.finished_at
        else None,
    }


@viewer_required
def validation_detail(request, pk):
    run = _run(pk)
    return render(request, "clusters/validation_detail.html", live_context(run))


@viewer_required
def validation_live(request, pk):
    return render(request, "clusters/partials/validation_live.html", live_context(_run(pk)))


@operator_post
def validation_cancel(request, pk):
    run = runner.cancel(_run(pk))
    messages.info(
        request,
        f"Validation #{run.pk}: {'cancelled' if run.state == 'cancelled' else 'cancelling'}.",
    )
    return redirect(run)


def _document(run: Validation) -> dict:
    previous = previous_run(run)
    return ValidationDetailSerializer(
        run, context={"previous_id": previous.pk if previous else None}
    ).data


@viewer_required
def validation_json(request, pk):
    run = _run(pk)
    response = HttpResponse(
        json.dumps(_document(run), default=str, separators=(",", ":")),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="validation-{run.pk}.json"'
    return response


@viewer_required
def validation_report(request, pk):
    """The run as one HTML file: styles inline, heatmaps inline (big ones as PNG data)."""
    run = _run(pk)
    context = live_context(run)
    datas = {row.rail: row.data for row in run.rails.all()}
    order = order_of(run, list(datas.values()))
    for rail in context["rails"]:
        rail["svg"] = heatmap.svg(datas[rail["data"]["rail"]], run.nodes, order)
    html = render_to_string("clusters/validation_report.html", context, request=request)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="validation-{run.pk}.html"'
    return response


def _rail_data(run: Validation, rail: int) -> dict:
    row = run.rails.filter(rail=rail).first()
    if row is None:
        raise Http404("No such rail in this run.")
    return row.data


@viewer_required
def validation_heatmap(request, pk, rail):
    run = _run(pk)
    data = _rail_data(run, rail)
    response = HttpResponse(heatmap.png(data, order_of(run)), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@viewer_required
def validation_cell(request, pk, rail):
    """One cell of a rail's heatmap, by its position in the displayed order (?row=&col=)."""
    run = _run(pk)
    try:
        row, col = int(request.GET.get("row", "")), int(request.GET.get("col", ""))
    except ValueError:
        return JsonResponse({"row": ["row and col are whole numbers."]}, status=400)
    count = len(run.nodes)
    if not (0 <= row < count and 0 <= col < count):
        return JsonResponse({"row": [f"row and col are between 0 and {count - 1}."]}, status=400)
    data = _rail_data(run, rail)
    order = order_of(run)
    facts = heatmap.cell(data, run.nodes, order[row], order[col])
    return JsonResponse({**facts, "text": heatmap.tooltip(facts)})


@operator_post
def validation_schedule(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    plan = cluster.plans.filter(slug=request.POST.get("plan", "")).first()
    mode = request.POST.get("mode", "quick")
    try:
        minutes = int(request.POST.get("interval_minutes", "0"))
    except ValueError:
        minutes = -1
    enabled = request.POST.get("enabled") == "on"
    errors = []
    if enabled and plan is None:
        errors.append("plan: choose a plan bound to this cluster.")
    if mode not in MODES:
        errors.append(f"mode: choose one of {', '.join(MODES)}.")
    if not 15 <= minutes <= 7 * 24 * 60:
        errors.append("interval_minutes: between 15 minutes and a week.")
    if errors:
        for error in errors:
            messages.error(request, error)
        return redirect(cluster)
    if plan is None:
        ValidationSchedule.objects.filter(cluster=cluster).update(enabled=False)
    else:
        ValidationSchedule.objects.update_or_create(
            cluster=cluster,
            defaults={"plan": plan, "mode": mode, "interval_minutes": minutes, "enabled": enabled},
        )
    messages.success(
        request, "Validation schedule saved." if enabled else "Validation schedule off."
    )
    return redirect(cluster)
