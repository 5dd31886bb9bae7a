"""A rollout in headless Chromium: from the plan page to the lab cluster, rows turning green live
through htmx polling, then the cluster page with a connection test."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from clusters.models import Cluster, Rollout
from planner import documents
from planner.seed import seed_plan_spec
from railstudio.roles import ensure_roles
from tests.browser.helpers import SHOTS, log_in, screenshot

MARKER = "no full reload happened"
OK_GREEN = "rgb(231, 246, 236)"  # studio.css --ok-bg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab_setup(lab, django_user_model):
    ensure_roles()  # the live server's flush removed the groups post_migrate made
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="otto", password="pw-otto")
    user.groups.add(Group.objects.get(name="operator"))
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    return plan, cluster


def test_roll_out_from_the_plan_page_and_watch_the_rows_turn_green(
    page, live_server, lab, lab_setup, celery_worker_thread, tmp_path
):
    plan, cluster = lab_setup
    lab.set_fault(latency_ms=60)  # slow enough to see the rollout run
    page.set_viewport_size({"width": 1360, "height": 900})
    SHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/plans/{plan.slug}/")
    panel = page.locator("#plan-rollout-panel")
    expect(panel.get_by_role("link", name="lab")).to_be_visible()
    panel_shot = tmp_path / "plan-rollout-panel.png"
    panel.screenshot(path=str(panel_shot))
    shutil.copy(panel_shot, SHOTS / panel_shot.name)
    panel.get_by_role("button", name="Roll out to lab").click()

    record = Rollout.objects.get()
    expect(page).to_have_url(f"{live_server.url}/rollouts/{record.pk}/")
    state = page.locator("#rollout-live [data-state]")
    expect(state).to_have_text(re.compile("pending|running"))
    page.evaluate(f"window.railStudioMarker = '{MARKER}'")

    expect(state).to_have_text("succeeded", timeout=60_000)
    rows = page.locator(".objects-table tbody tr")
    expect(rows).to_have_count(9)
    expect(page.locator(".objects-table tr.row-ok")).to_have_count(9)
    expect(rows.first.locator("td").first).to_have_css("background-color", OK_GREEN)
    expect(page.locator(".objects-table")).to_contain_text("sriov-rail-7")
    assert page.evaluate("window.railStudioMarker") == MARKER  # updated in place, no reload
    expect(page.locator(".status-line")).to_have_text(re.compile(r"9 object\(s\) changed"))

    diff = page.locator("details.diff-item").first
    diff.locator("summary").click()
    expect(diff.locator(".d-add").first).to_be_visible()
    shot = screenshot(page, tmp_path, "rollout.png")
    assert shot.stat().st_size > 10_000

    lab.clear_faults()
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/")
    expect(page.locator("#tested-at")).to_have_text("never")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#tested-at")).to_have_text(re.compile(r"UTC$"), timeout=30_000)
    expect(page.locator(".vf-table tbody tr")).to_have_count(4)
    expect(page.locator("#connection")).to_contain_text("reachable")
    page.get_by_role("button", name="Check drift").click()
    expect(page.locator("#drift")).to_contain_text("in sync", timeout=30_000)
    expect(page.locator(".rollout-history tbody tr")).to_have_count(1)
    screenshot(page, tmp_path, "cluster-detail.png")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clusters").click()
    row = page.locator(".cluster-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("v1.30.4")
    expect(row.locator('[data-state="succeeded"]')).to_be_visible()
    screenshot(page, tmp_path, "clusters.png")

    # bad input and a conflict are shown on the page, not as a crash
    busy = Rollout.objects.create(
        cluster=cluster, plan=plan, plan_slug=plan.slug, revision=9, state="pending"
    )
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/")
    page.get_by_label("Force past preflight errors").check()
    page.get_by_role("button", name=f"Roll out {plan.name}").click()
    expect(page.locator("#err_force_reason")).to_contain_text("needs a reason")
    page.get_by_label("Reason for forcing").fill("device plugin restarting")
    page.get_by_role("button", name=f"Roll out {plan.name}").click()
    expect(page.locator("#rollout-error")).to_contain_text(
        f"already in progress (rollout #{busy.pk}"
    )
    expect(page.get_by_label("Reason for forcing")).to_have_value("device plugin restarting")
    screenshot(page, tmp_path, "cluster-conflict.png")


def test_register_the_lab_by_pasting_its_kubeconfig(
    page, live_server, lab, django_user_model, celery_worker_thread, tmp_path
):
    ensure_roles()
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="otto", password="pw-otto")
    user.groups.add(Group.objects.get(name="operator"))
    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/clusters/")
    expect(page.locator(".empty-state")).to_contain_text("python manage.py labcluster up")
    page.get_by_role("link", name="Register a cluster").first.click()

    page.get_by_label("Name").fill("lab")
    page.get_by_label("Kubeconfig: paste it…").fill("clusters: [oops")
    expect(page.locator("#err_kubeconfig")).to_contain_text("not valid YAML")
    page.get_by_label("Kubeconfig: paste it…").fill(lab.kubeconfig_path.read_text())
    context = page.get_by_label("Context")
    expect(context).to_be_enabled()
    expect(context.locator("option")).to_have_count(1)
    expect(page.locator("#err_kubeconfig")).to_have_count(0)
    screenshot(page, tmp_path, "cluster-register.png")
    page.get_by_role("button", name="Register").click()

    cluster = Cluster.objects.get(name="lab")
    expect(page).to_have_url(f"{live_server.url}/clusters/{cluster.pk}/")
    expect(page.locator(".message")).to_contain_text("Registered lab")
    # registration queued a connection test: the panel polls until the worker has answered
    expect(page.locator("#tested-at")).to_have_text(re.compile(r"UTC$"), timeout=30_000)
    expect(page.locator("#connection")).to_contain_text("v1.30.4")
    expect(page.locator("body")).not_to_contain_text(lab.token)
