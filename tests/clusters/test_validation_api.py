"""The validation API and pages without a cluster behind them: who may do what, errors that
name their field, history filters, and query budgets."""

import pytest

from clusters.models import Validation, ValidationRail, ValidationSchedule
from clusters.validation import compare, runner, services
from tests.clusters.test_validation_logic import _rail

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(seed_plan):
    from clusters.models import Cluster

    cluster = Cluster.objects.create(name="c1", server="https://127.0.0.1:1")
    cluster.plans.add(seed_plan)
    return cluster


def _url(cluster) -> str:
    return f"/api/clusters/{cluster.pk}/validations/"


def _finished_run(cluster, plan, **extra) -> Validation:
    run = Validation.objects.create(
        cluster=cluster, plan=plan, plan_slug=plan.slug, mode="quick", state="succeeded",
        nodes=["n0", "n1", "n2", "n3"],
        findings=[{"code": "RAIL_LINK_DOWN", "severity": "error", "rail": 1, "node": "n2",
                   "peer": None, "message": "n2 is unreachable on rail 1", "fix": "check", "evidence": ""}],
        summary={"passed": False, "counts": {"error": 1, "warning": 0, "info": 0}, "nodes": 4, "rails": 2},
        **extra,
    )  # fmt: skip
    for rail in (0, 1):
        data = _rail(rail, down=2 if rail else None)
        ValidationRail.objects.create(
            validation=run, rail=rail, data=data, summary=compare.rail_summary(data)
        )
    return run


def test_operators_start_runs_viewers_and_planners_read(
    operator_api, viewer_api, planner_api, cluster, seed_plan
):
    body = {"plan": seed_plan.slug, "mode": "quick"}
    assert viewer_api.post(_url(cluster), body, format="json").status_code == 403
    assert planner_api.post(_url(cluster), body, format="json").status_code == 403
    started = operator_api.post(_url(cluster), {**body, "plan": seed_plan.pk}, format="json")
    assert started.status_code == 202
    run = started.json()
    assert (run["state"], run["mode"], run["plan"], run["plan_slug"]) == (
        "pending",
        "quick",
        seed_plan.pk,
        "training",
    )
    assert viewer_api.get(f"/api/validations/{run['id']}/").status_code == 200
    assert viewer_api.get(_url(cluster)).json()[0]["id"] == run["id"]
    assert viewer_api.post(f"/api/validations/{run['id']}/cancel/").status_code == 403
    second = operator_api.post(_url(cluster), body, format="json")
    assert second.status_code == 409 and f"#{run['id']}" in second.json()["detail"]
    cancelled = operator_api.post(f"/api/validations/{run['id']}/cancel/")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    assert operator_api.post(_url(cluster), body, format="json").status_code == 202


@pytest.mark.parametrize(
    "body,field,words",
    [
        ({}, "plan", "This field is required"),
        ({"plan": "nope"}, "plan", "No plan 'nope' is bound to cluster c1"),
        ({"plan": 99999}, "plan", "No plan '99999'"),
        ({"plan": ["training"]}, "plan", "Give the plan's id"),
        ({"plan": "training", "mode": "fast"}, "mode", '"fast" is not a valid choice'),
        ({"plan": "training", "nodes": "gpu-node-0"}, "nodes", 'Expected a list'),
        ({"plan": "training", "nodes": ["gpu-node-9"]}, "nodes", "gpu-node-9 is not a node of plan training"),
        ({"plan": "training", "nodes": ["gpu-node-0", "gpu-node-0"]}, "nodes", "named twice"),
        ({"plan": "training", "nodes": ["Bad_Name"]}, "nodes", "not a valid node name"),
        ({"plan": "training", "nodes": [f"gpu-node-{i}" for i in range(5)]}, "nodes", "At most 4 nodes"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_field(operator_api, cluster, seed_plan, body, field, words):
    response = operator_api.post(_url(cluster), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field] and words in response.json()[field][0], response.json()
    assert Validation.objects.count() == 0


def test_history_filters_and_details(viewer_api, cluster, seed_plan):
    first = _finished_run(cluster, seed_plan)
    second = _finished_run(cluster, seed_plan)
    listed = viewer_api.get(f"/api/validations/?cluster={cluster.pk}&plan={seed_plan.slug}").json()
    assert [r["id"] for r in listed["results"]] == [second.pk, first.pk]
    assert listed["results"][0]["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert viewer_api.get("/api/validations/?plan=other").json()["results"] == []
    assert viewer_api.get("/api/validations/?cluster=x").status_code == 400
    unknown = viewer_api.get("/api/validations/?nodes=gpu-node-0")
    assert unknown.status_code == 400 and list(unknown.json()) == ["nodes"]
    detail = viewer_api.get(f"/api/validations/{second.pk}/").json()
    assert detail["previous"] == first.pk and detail["passed"] is False
    assert [r["rail"] for r in detail["rails"]] == [0, 1]
    assert detail["rails"][1]["status"][2] == "uu-u"
    slim = viewer_api.get(f"/api/validations/{second.pk}/?matrices=0").json()
    assert "status" not in slim["rails"][0] and slim["rails"][0]["rdma"]


def test_query_budgets(viewer_api, as_viewer, cluster, seed_plan, django_assert_max_num_queries):
    runs = [_finished_run(cluster, seed_plan) for _ in range(6)]
    with django_assert_max_num_queries(6):
        assert viewer_api.get("/api/validations/").status_code == 200
    with django_assert_max_num_queries(6):
        assert viewer_api.get(_url(cluster)).status_code == 200
    with django_assert_max_num_queries(8):
        assert viewer_api.get(f"/api/validations/{runs[-1].pk}/").status_code == 200
    with django_assert_max_num_queries(12):
        page = as_viewer.get(f"/validations/{runs[-1].pk}/")
    assert page.status_code == 200
    with django_assert_max_num_queries(8):
        assert as_viewer.get(f"/validations/{runs[-1].pk}/rails/1/heatmap.png").status_code == 200
    with django_assert_max_num_queries(22):
        assert as_viewer.get(f"/clusters/{cluster.pk}/").status_code == 200


def test_pages_show_heatmaps_findings_and_downloads(as_viewer, cluster, seed_plan):
    first = _finished_run(cluster, seed_plan)
    run = _finished_run(cluster, seed_plan)
    html = as_viewer.get(f"/validations/{run.pk}/").content.decode()
    assert "RAIL_LINK_DOWN" in html and "n2 is unreachable on rail 1" in html
    assert html.count('<svg class="heatmap"') == 2 and 'class="cell fail"' in html
    assert f"#{first.pk}" in html and "0 new, 0 resolved, 1 unchanged" in html
    assert "<script>" not in html and "onclick" not in html  # CSP: scripts come from static files
    report = as_viewer.get(f"/validations/{run.pk}/report.html")
    assert report["Content-Disposition"] == f'attachment; filename="validation-{run.pk}.html"'
    text = report.content.decode()
    assert "<style>" in text and "<svg" in text and "RAIL_LINK_DOWN" in text and "<link" not in text
    download = as_viewer.get(f"/validations/{run.pk}/report.json")
    assert download.json()["findings"][0]["code"] == "RAIL_LINK_DOWN"
    cell = as_viewer.get(f"/validations/{run.pk}/rails/1/cell/?row=0&col=1").json()
    assert cell["source"] == "n2" and cell["state"] == "fail" and "no echo" in cell["text"]
    assert as_viewer.get(f"/validations/{run.pk}/rails/1/cell/?row=9&col=0").status_code == 400
    assert as_viewer.get(f"/validations/{run.pk}/rails/7/heatmap.png").status_code == 404
    cluster_page = as_viewer.get(f"/clusters/{cluster.pk}/").content.decode()
    assert "Rail validations" in cluster_page and f"#{run.pk}" in cluster_page
    assert (
        "Validate" not in cluster_page.split("Rail validations")[0].split("Roll out")[-1]
    )  # viewers


def test_validate_buttons_start_runs_from_the_cluster_and_plan_pages(
    as_operator, viewer, cluster, seed_plan
):
    from django.test import Client

    as_viewer = Client()
    as_viewer.force_login(viewer)
    page = as_operator.get(f"/clusters/{cluster.pk}/").content.decode()
    assert f"Validate {seed_plan.name}" in page
    plan_page = as_operator.get(f"/plans/{seed_plan.slug}/").content.decode()
    assert f"Validate on {cluster.name}" in plan_page
    assert (
        as_viewer.post(
            f"/clusters/{cluster.pk}/validations/start/", {"plan": "training"}
        ).status_code
        == 403
    )
    response = as_operator.post(
        f"/clusters/{cluster.pk}/validations/start/", {"plan": "training", "mode": "strict"}
    )
    run = Validation.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.mode, run.state) == ("strict", "pending")
    live = as_operator.get(f"/validations/{run.pk}/live/").content.decode()
    assert 'hx-trigger="every 1s"' in live and "Waiting for a worker" in live
    again = as_operator.post(
        f"/plans/{seed_plan.slug}/validations/start/",
        {"cluster": cluster.pk, "mode": "quick"},
        follow=True,
    )
    assert "already in progress" in again.content.decode()
    bad = as_operator.post(
        f"/clusters/{cluster.pk}/validations/start/", {"plan": "training", "mode": "x"}, follow=True
    )
    assert "mode:" in bad.content.decode()


def test_a_schedule_starts_due_validations_once(
    as_operator, cluster, seed_plan, django_capture_on_commit_callbacks
):
    response = as_operator.post(
        f"/clusters/{cluster.pk}/validations/schedule/",
        {"plan": "training", "mode": "quick", "interval_minutes": "60", "enabled": "on"},
    )
    assert response.status_code == 302
    schedule = ValidationSchedule.objects.get()
    assert (schedule.interval_minutes, schedule.enabled) == (60, True)
    bad = as_operator.post(
        f"/clusters/{cluster.pk}/validations/schedule/",
        {"plan": "training", "interval_minutes": "5", "enabled": "on"},
        follow=True,
    )
    assert "interval_minutes: between 15 minutes" in bad.content.decode()
    started = services.start_due()
    assert [run.scheduled for run in started] == [True]
    assert services.start_due() == []  # not due again, and one is running
    runner.cancel(started[0])
    ValidationSchedule.objects.update(last_run_at=None)
    assert len(services.start_due()) == 1


def test_a_big_run_draws_images_and_answers_cells_in_display_order(as_viewer, cluster, seed_plan):
    from clusters.validation import heatmap, results, schedule
    from clusters.validation.parsers import PingResult

    count = 60
    nodes = [f"n{i:02d}" for i in range(count)]
    icmp = {p: PingResult(3, 3, 0, 0.0, 0.03) for p in schedule.icmp_pairs(count)}
    icmp[(7, 8)] = PingResult(3, 0, 3, 100.0, None)
    data = results.rail_data(
        rail=0, nad="sriov-rail-0", interface="net1", subnet="10.50.0.0/16", tests=["icmp"],
        addresses=[f"10.50.1.{i}" for i in range(count)], icmp=icmp, rdma=[],
    )  # fmt: skip
    order = heatmap.node_order(nodes, [data])
    run = Validation.objects.create(
        cluster=cluster, plan=seed_plan, plan_slug=seed_plan.slug, mode="quick",
        state="succeeded", nodes=nodes, summary={"passed": False, "order": order},
    )  # fmt: skip
    ValidationRail.objects.create(
        validation=run, rail=0, data=data, summary=compare.rail_summary(data)
    )
    html = as_viewer.get(f"/validations/{run.pk}/").content.decode()
    assert f'<image href="/validations/{run.pk}/rails/0/heatmap.png"' in html
    assert 'data-count="60"' in html and '<rect class="cell' not in html
    assert order[:2] == [7, 8]  # the failing pair's nodes first
    cell = as_viewer.get(f"/validations/{run.pk}/rails/0/cell/?row=0&col=1").json()
    assert (cell["source"], cell["target"], cell["state"]) == ("n07", "n08", "fail")
    image = as_viewer.get(f"/validations/{run.pk}/rails/0/heatmap.png")
    assert image["Content-Type"] == "image/png" and image.content[:4] == b"\x89PNG"


def test_the_plan_validations_page_lists_the_plans_runs_on_every_cluster(
    as_operator, viewer, cluster, seed_plan, django_assert_max_num_queries
):
    from django.test import Client

    from clusters.models import Cluster
    from planner.models import Plan

    as_viewer = Client()  # as_operator is the `client` fixture, logged in as the operator
    as_viewer.force_login(viewer)
    other_cluster = Cluster.objects.create(name="c2", server="https://127.0.0.1:2")
    other_cluster.plans.add(seed_plan)
    other_plan = Plan.objects.create(name="other", slug="other")
    mine = [_finished_run(cluster, seed_plan), _finished_run(other_cluster, seed_plan)]
    theirs = _finished_run(cluster, other_plan)
    url = f"/plans/{seed_plan.slug}/validations/"
    with django_assert_max_num_queries(14) as few:
        html = as_viewer.get(url).content.decode()
    rows = html.split('id="plan-validation-runs"')[1]
    assert all(f">#{run.pk}<" in rows for run in mine) and f">#{theirs.pk}<" not in rows
    assert "1 error, 0 warnings" in rows and ">c2<" in rows
    assert "Validate on" not in html and "An operator can start a validation" in html
    for _ in range(6):
        _finished_run(other_cluster, seed_plan)
    with django_assert_max_num_queries(len(few.captured_queries)):  # no query per run
        assert as_viewer.get(url).status_code == 200
    page = as_operator.get(url).content.decode()
    assert "Validate on c1" in page and "Validate on c2" in page
    response = as_operator.post(
        f"/plans/{seed_plan.slug}/validations/start/", {"cluster": other_cluster.pk}
    )
    run = Validation.objects.get(state="pending")
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.cluster == other_cluster
    refused = as_operator.post(
        f"/plans/{seed_plan.slug}/validations/start/", {"cluster": "x"}, follow=True
    )
    assert refused.redirect_chain[-1][0] == url
    assert "cluster: choose a cluster the plan is bound to." in refused.content.decode()


def test_the_plan_validations_page_refuses_what_it_should(client, planner_user, cluster, seed_plan):
    url = f"/plans/{seed_plan.slug}/validations/"
    assert client.get(url).status_code == 302  # not logged in: to the login page
    client.force_login(planner_user)
    assert client.get("/plans/no-such-plan/validations/").status_code == 404
    for page in ("abc", "999999999", "-1", "1" * 40):
        assert client.get(url, {"page": page}).status_code == 200, page
    start = client.post(f"/plans/{seed_plan.slug}/validations/start/", {"cluster": cluster.pk})
    assert start.status_code == 403  # a planner may read runs, not start them
    assert not Validation.objects.exists()
