"""The pod pages in headless Chromium against the lab: the dashboard, the pods list refreshed in
place by a real worker, the pod diagram, and `ip -br addr` run from the pod page."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from clusters import snapshots
from clusters.models import Cluster, ExecRun, PodStatus
from planner import documents
from planner.seed import seed_plan_spec
from railstudio.roles import ensure_roles
from tests.browser.helpers import keep, log_in, screenshot
from tests.helpers import deploy_seed_scene, wait_for

NS = "ai-training"
WORKER = "training-worker-0"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab_pods(lab, django_user_model):
    """An operator, the seed plan bound to the lab, its NADs, the seed pod and a pod with a
    NAD typo, and a first snapshot."""
    ensure_roles()  # the live server's flush removed the groups post_migrate made
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="otto", password="pw-otto")
    user.groups.add(Group.objects.get(name="operator"))
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True, reachable=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    deploy_seed_scene(lab, plan, NS)
    wait_for(lambda: snapshots.refresh(cluster) and PodStatus.objects.get(name="typo").problems)
    return cluster


def full_page(page, tmp_path: Path, name: str) -> Path:
    return screenshot(page, tmp_path, name)


def test_dashboard_pods_list_pod_diagram_and_exec(
    page, live_server, lab_pods, celery_worker_thread, tmp_path
):
    cluster = lab_pods
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server, "otto")

    # The dashboard: the cluster, the plan's rails, the pod with problems linking to its page.
    expect(page.locator('#dash-clusters [data-cluster="lab"]')).to_contain_text("1 with problems")
    expect(page.locator(".plan-card .usage-bar")).to_have_count(8)
    problem = page.locator(f'#dash-problems [data-pod="{NS}/typo"]')
    expect(problem).to_contain_text("NAD_NOT_FOUND")
    assert full_page(page, tmp_path, "dashboard.png").stat().st_size > 20_000

    # The pods list, refreshed in place by a real worker.
    page.locator("#dash-clusters").get_by_role("link", name="1 ok").click()
    expect(page).to_have_url(f"{live_server.url}/clusters/{cluster.pk}/pods/")
    rows = page.locator(".pods-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f'[data-pod="{NS}/{WORKER}"] [data-badge="ok"]')).to_have_text(
        "all rails ok"
    )
    expect(page.locator(f'[data-pod="{NS}/typo"] [data-badge="problems"]')).to_be_visible()
    page.evaluate("window.noReload = true")
    stamp = page.locator("#snapshot-time time").get_attribute("datetime")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#snapshot-time time")).not_to_have_attribute(
        "datetime", stamp, timeout=20_000
    )
    expect(page.locator(".waiting")).to_have_count(0)
    page.get_by_label("Problem").select_option("any")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"problem=any"))
    page.get_by_label("Problem").select_option("")
    expect(rows).to_have_count(2)
    assert page.evaluate("window.noReload") is True  # everything above happened in place
    assert full_page(page, tmp_path, "pods.png").stat().st_size > 10_000

    # The seed pod: its diagram, then `ip -br addr` in the terminal panel.
    page.get_by_role("link", name=re.compile(WORKER)).click()
    diagram = page.locator("svg.pod-diagram")
    expect(diagram.locator("g.if-row")).to_have_count(5)
    expect(diagram.locator("g.if-ok")).to_have_count(4)
    report = PodStatus.objects.get(name=WORKER).report
    for interface in report["interfaces"]:
        expect(diagram.locator(f'[data-interface="{interface["name"]}"]')).to_contain_text(
            interface["ip"]
        )
    shot = tmp_path / "pod.png"
    page.locator("#pod-diagram").screenshot(path=str(shot))
    assert keep(shot).stat().st_size > 10_000

    page.get_by_role("button", name="ip -br addr").click()
    terminal = page.locator("#exec-output .terminal")
    expect(terminal).to_contain_text("exit 0", timeout=30_000)
    for interface in report["interfaces"]:
        expect(terminal.locator(".stdout")).to_contain_text(interface["ip"])
    expect(terminal.locator(".terminal-body")).to_have_css("background-color", "rgba(0, 0, 0, 0)")
    expect(terminal).to_have_css("background-color", "rgb(15, 23, 42)")  # dark panel
    assert ExecRun.objects.get().command == "ip -br addr"
    full_page(page, tmp_path, "pod-page.png")

    # The typo pod: red rails with the diagnosis beside them.
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/pods/{NS}/typo/")
    expect(page.locator("svg.pod-diagram g.if-bad")).to_have_count(4)
    expect(page.locator('svg.pod-diagram [data-interface="net2"]')).to_contain_text("NAD_NOT_FOUND")
    expect(page.locator('[data-code="NAD_NOT_FOUND"]')).to_contain_text("Did you mean")
    full_page(page, tmp_path, "pod-typo.png")
