"""Destructive actions in headless Chromium: rolling back shows the change and asks first (with
prune only when ticked, with a reason), and unbinding asks first."""

import re

import pytest
from playwright.sync_api import expect

from clusters import services
from clusters.models import Cluster, Rollout
from planner import documents
from planner.models import Exclusion
from planner.seed import seed_plan_spec
from tests.browser.helpers import log_in, make_user, screenshot
from tests.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rolled_out(cluster, plan) -> Rollout:
    record = services.start_rollout(cluster, plan, None)
    return wait_for(
        lambda: (r := Rollout.objects.get(pk=record.pk)).state == "succeeded" and r, timeout=60
    )


def test_roll_back_shows_the_change_and_asks_first(
    page, live_server, lab, django_user_model, celery_worker_thread, tmp_path
):
    make_user(django_user_model, "otto", "operator")
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    first = rolled_out(cluster, plan)
    Exclusion.objects.create(rail=plan.rails.get(index=5), cidr="10.55.1.0/24", purpose="reserved")
    rolled_out(cluster, plan)

    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/rollouts/{first.pk}/")
    page.get_by_role("link", name="Roll back to r1…").click()
    expect(page).to_have_url(f"{live_server.url}/rollouts/{first.pk}/rollback/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("revision 1?")
    change = page.locator("details.diff-item")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("NetworkAttachmentDefinition/ai-training/sriov-rail-5")
    expect(change.locator(".d-del")).to_contain_text("10.55.1.0/24")
    screenshot(page, tmp_path, "rollback-confirm.png")

    page.get_by_label("Prune").check()
    page.get_by_role("button", name="Roll back to revision 1").click()
    expect(page.locator("#err_reason")).to_contain_text("needs a reason")
    assert Rollout.objects.count() == 2
    page.get_by_label("Reason").fill("the rail 5 reservation broke the job")
    page.get_by_role("button", name="Roll back to revision 1").click()

    back = wait_for(lambda: Rollout.objects.filter(rollback_of=first).first())
    expect(page).to_have_url(f"{live_server.url}/rollouts/{back.pk}/")
    expect(page.locator("#rollout-live [data-state]")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator(".page-head")).to_contain_text("a rollback that restores revision 1")
    expect(page.locator(".status-line")).to_contain_text("Restored revision 1")
    screenshot(page, tmp_path, "rollback-done.png")
    back.refresh_from_db()
    assert back.prune and not back.force
    assert back.force_reason == "rollback to revision 1: the rail 5 reservation broke the job"

    page.goto(f"{live_server.url}/clusters/{cluster.pk}/")
    page.locator("#plans").get_by_role("button", name="Unbind").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Unbind .* from lab\?"))
    screenshot(page, tmp_path, "unbind-confirm.png")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{live_server.url}/clusters/{cluster.pk}/")
    assert cluster.plans.count() == 1
