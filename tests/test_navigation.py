"""Every page highlights its own item of the main navigation; every plan page has the same tabs
and breadcrumbs; the sidebar shows a plan's whole name; errors get the product's own pages."""

import re

import pytest
from django.test import override_settings
from django.urls import include, path, reverse

from clusters.models import Cluster, Rollout
from railstudio.navigation import PLAN_SECTIONS, plan_sections, section_of
from railstudio.roles import ensure_roles

pytestmark = pytest.mark.django_db

LONG_NAME = "Seed: 8-rail training cluster, east hall, rows 12 to 19 (the long name)"
MAIN_NAV = re.compile(r'<nav class="nav" aria-label="Main">(.*?)</nav>', re.S)


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


@pytest.fixture
def estate(seed_plan):
    seed_plan.name = LONG_NAME
    seed_plan.save()
    cluster = Cluster.objects.create(name="east", server="https://10.1.2.3:6443")
    cluster.plans.add(seed_plan)
    record = Rollout.objects.create(
        cluster=cluster, plan=seed_plan, plan_slug=seed_plan.slug, state="succeeded", revision=1
    )
    return seed_plan, cluster, record


def highlighted(html: str) -> list[str]:
    nav = MAIN_NAV.search(html).group(1)
    return re.findall(r'aria-current="page">([^<]+)</a>', nav)


def test_the_main_nav_highlights_the_pages_own_item(as_operator, estate):
    plan, cluster, record = estate
    expected = {
        reverse("home"): ["Home"],
        reverse("plan-list"): ["Plans"],
        reverse("plan-create"): ["Plans"],
        reverse("plan-import"): ["Plans"],
        reverse("plan-detail", args=[plan.slug]): ["Plans"],
        reverse("plan-nodes", args=[plan.slug]): ["Plans"],
        reverse("plan-manifests", args=[plan.slug]): ["Plans"],
        reverse("plan-rollouts-page", args=[plan.slug]): ["Plans"],
        reverse("plan-validations", args=[plan.slug]): ["Plans"],
        reverse("lint"): ["Lint YAML"],
        reverse("cluster-list"): ["Clusters"],
        reverse("cluster-create"): ["Clusters"],
        reverse("cluster-detail", args=[cluster.pk]): ["Clusters"],
        reverse("cluster-pods", args=[cluster.pk]): ["Clusters"],
        record.get_absolute_url(): ["Clusters"],
    }
    for url, items in expected.items():
        response = as_operator.get(url)
        assert response.status_code == 200, url
        assert highlighted(response.content.decode()) == items, url


def test_section_of_covers_every_page_route_by_its_name():
    assert section_of("plan-validations") == "plans"  # issue 13's pages land in Plans
    assert section_of("cluster-pod") == "clusters" and section_of("rollout-live") == "clusters"
    assert section_of("lint") == "lint" and section_of("home") == "home"
    assert section_of("login") == "" and section_of(None) == ""


def test_every_plan_page_has_the_same_tabs_and_breadcrumbs(as_viewer, estate):
    plan = estate[0]
    sections = plan_sections(plan.slug)
    assert [s.key for s in sections] == [
        "overview", "nodes", "manifests", "rollouts", "validations",
    ]  # fmt: skip
    labels = {key: label for key, label, _ in PLAN_SECTIONS}
    for section in sections:
        html = as_viewer.get(section.url).content.decode()
        tabs = re.search(
            r'<nav class="plan-tabs" aria-label="Plan sections">(.*?)</nav>', html, re.S
        )
        assert tabs, section.url
        links = re.findall(
            r'<a href="([^"]+)" data-section="(\w+)"( aria-current="page")?>', tabs[1]
        )
        assert [(href, key) for href, key, _ in links] == [(s.url, s.key) for s in sections]
        assert [key for _, key, current in links if current] == [section.key]
        crumbs = re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', html, re.S)[
            1
        ]
        assert f'<a href="{reverse("plan-list")}">Plans</a>' in crumbs
        if section.key == "overview":
            assert f'<li aria-current="page">{LONG_NAME}</li>' in crumbs
        else:
            assert f'<a href="{reverse("plan-detail", args=[plan.slug])}">{LONG_NAME}</a>' in crumbs
            assert f'<li aria-current="page">{labels[section.key]}</li>' in crumbs.replace(
                "&amp;", "&"
            )
        assert f"<h1>{LONG_NAME}</h1>" in html
        # the sidebar names the plan in full (it wraps), with its sections
        assert f'<div class="nav-title" title="{LONG_NAME}">{LONG_NAME}</div>' in html


def test_an_admin_sees_the_admin_link_and_may_open_it(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="pw-admin")
    client.force_login(admin)
    html = client.get(reverse("plan-list")).content.decode()
    assert f'<a href="{reverse("admin:index")}">Admin</a>' in MAIN_NAV.search(html).group(1)
    assert client.get(reverse("admin:index")).status_code == 200


# ---------------------------------------------------------------------------------------------
# Error pages and the favicon


def test_a_missing_page_gets_the_products_404(client, viewer):
    anonymous = client.get("/nope/")  # no route at all: no login asked first
    assert (
        anonymous.status_code == 404
        and '<code class="mono">/nope/</code>' in anonymous.content.decode()
    )
    client.force_login(viewer)
    for url in ("/nope/", "/plans/no-such-plan/"):
        response = client.get(url)
        assert response.status_code == 404, url
        html = response.content.decode()
        assert "<title>Not found · Rail Studio</title>" in html
        assert 'data-status="404"' in html and "railstudio/favicon.svg" in html
        assert "studio.css" in html and f'href="{reverse("plan-list")}"' in html


def test_a_role_refusal_gets_the_products_403_with_the_reason(as_viewer):
    response = as_viewer.get(reverse("plan-create"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-status="403"' in html and "This needs the planner role." in html


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom), path("", include("railstudio.urls"))]


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_gets_the_products_500_without_a_request_context(client, viewer):
    client.force_login(viewer)
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-status="500"' in html and "Something broke on our side" in html
    assert "railstudio/favicon.svg" in html and "boom" not in html


def test_the_favicon_is_the_products_mark(client):
    response = client.get("/favicon.ico")  # no login needed
    assert response.status_code == 301 and response["Location"].endswith("railstudio/favicon.svg")
    page = client.get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/railstudio/favicon.svg" type="image/svg+xml"' in page
