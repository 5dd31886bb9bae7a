"""An empty install (no plans, no clusters) opens on a first-run page: create a plan, import
one, register a cluster, or start a lab, each one click away; it becomes the dashboard as soon
as there is something to show."""

import re

import pytest
from django.urls import reverse

from clusters.models import Cluster
from railstudio.roles import ensure_roles

pytestmark = pytest.mark.django_db

POLL = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_an_operator_gets_all_four_ways_to_start(as_operator):
    html = text_of(as_operator.get(reverse("home")))
    assert "<h1>Welcome to Rail Studio</h1>" in html
    for url, label in (
        (reverse("plan-create"), "Create a plan"),
        (reverse("plan-import"), "Import a plan (YAML)"),
        (reverse("cluster-create"), "Register a cluster"),
    ):
        assert f'<a class="button primary" href="{url}">{label}</a>' in html
    assert (
        '<pre class="mono" id="lab-command">.venv/bin/python manage.py labcluster up</pre>' in html
    )
    assert 'data-copy="lab-command"' in html  # one click copies it
    assert f'hx-get="{reverse("home")}?poll=first-run" hx-trigger="every 5s"' in html
    assert 'aria-current="page">Home</a>' in html


def test_a_viewer_is_told_which_role_each_way_needs(as_viewer):
    html = text_of(as_viewer.get(reverse("home")))
    assert "Creating plans needs the planner role." in html
    assert "Registering clusters needs the operator role." in html
    assert reverse("plan-create") not in html.split("<main", 1)[1].split("lab-command")[0]


def test_the_page_turns_into_the_dashboard_once_a_cluster_registers(
    as_operator, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):  # session, user, roles, two exists()
        as_operator.get(reverse("home"))
    with django_assert_max_num_queries(6):  # every 5 s while the page is open
        waiting = as_operator.get(reverse("home") + "?poll=first-run", **POLL)
    assert waiting.status_code == 204 and "HX-Refresh" not in waiting
    Cluster.objects.create(name="lab", server="https://127.0.0.1:6443", is_lab=True)
    ready = as_operator.get(reverse("home") + "?poll=first-run", **POLL)
    assert ready.status_code == 204 and ready["HX-Refresh"] == "true"
    html = text_of(as_operator.get(reverse("home")))
    assert "<h1>Home</h1>" in html and "Welcome to Rail Studio" not in html
