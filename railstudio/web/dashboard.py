"""The home page: the estate at a glance (railstudio.web.estate), or the first-run page."""

from django.http import Http404, HttpResponse
from django.shortcuts import render

from clusters.models import Cluster
from planner.models import Plan
from railstudio.web import estate
from railstudio.web.access import viewer_required

LAB_COMMAND = ".venv/bin/python manage.py labcluster up"


def is_empty_install() -> bool:
    return not (Plan.objects.exists() or Cluster.objects.exists())


@viewer_required
def dashboard(request):
    """The estate at a glance; on an empty install, the first-run page instead (it polls, and
    reloads into the dashboard once a plan or cluster exists, e.g. a lab registering itself)."""
    empty = is_empty_install()
    if request.GET.get("poll") == "first-run":
        response = HttpResponse(status=204)
        if not empty:
            response["HX-Refresh"] = "true"
        return response
    if empty:
        return render(request, "dashboard/first_run.html", {"lab_command": LAB_COMMAND})
    return render(request, "dashboard/home.html", estate.overview())


@viewer_required
def dashboard_section(request, section):
    build = estate.SECTIONS.get(section)
    if build is None:
        raise Http404(f"No dashboard section '{section}'.")
    return render(request, f"dashboard/partials/{section}.html", build())
