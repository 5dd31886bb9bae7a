"""The progress and result page of an inventory import run by a worker (planner.import_jobs).
The page polls its status card every second (htmx) until the import has finished."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from planner import import_jobs
from planner.models import InventoryImport
from planner.views import viewer_required


@viewer_required
def node_import_job(request, slug, pk):
    job = get_object_or_404(
        InventoryImport.objects.select_related("plan", "created_by").defer("text"),
        pk=pk,
        plan__slug=slug,
    )
    done, total = import_jobs.progress(job)
    seconds = None
    if job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
    context = {
        "plan": job.plan,
        "job": job,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "seconds": seconds,
    }
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = "planner/imports/partials/status.html" if partial else "planner/imports/job.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
