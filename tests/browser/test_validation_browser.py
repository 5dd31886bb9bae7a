"""A rail validation in headless Chromium: Validate from the cluster page, watch the progress,
then the heatmaps with a fault's red cells and its finding; hover shows the pair's figures."""

import re

import pytest
from playwright.sync_api import expect

from clusters.kube import Kube, Target
from clusters.models import Cluster, Validation
from planner import documents, manifests
from planner.seed import seed_plan_spec
from tests.browser.helpers import log_in, make_user, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]


@pytest.fixture
def lab_setup(lab, django_user_model):
    make_user(django_user_model, "otto", "operator")
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    kube.ensure_namespace(plan.namespace)
    for obj in manifests.render_nads(plan.to_spec()):
        kube.apply(obj)
    return plan, cluster


def test_validate_from_the_cluster_page_and_see_the_fault(
    page, live_server, lab, lab_setup, celery_worker_thread, tmp_path
):
    plan, cluster = lab_setup
    lab.set_fault(link_down={"node": "gpu-node-2", "rail": 1})
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server, "otto")
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/")
    form = page.locator("#validate-form")
    form.get_by_label("Validation mode").select_option("quick")
    form.get_by_role("button", name=f"Validate {plan.name}").click()

    run = Validation.objects.get()
    expect(page).to_have_url(f"{live_server.url}/validations/{run.pk}/")
    state = page.locator("#validation-live [data-state]")
    expect(state).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#verdict")).to_have_text("problems found")

    finding = page.locator("#findings tr.finding")
    expect(finding).to_have_count(1)
    expect(finding).to_have_attribute("data-code", "RAIL_LINK_DOWN")
    expect(finding).to_contain_text("gpu-node-2 is unreachable on rail 1")
    expect(finding).to_contain_text("link is down")

    rail1 = page.locator('svg.heatmap[data-rail="1"]')
    red = rail1.locator('rect.cell.fail[data-source="gpu-node-2"][data-target="gpu-node-0"]')
    expect(red).to_have_attribute("fill", "#dc2626")
    expect(rail1.locator("rect.cell.fail")).to_have_count(6)  # gpu-node-2's row and column
    expect(page.locator('svg.heatmap[data-rail="0"] rect.cell.fail')).to_have_count(0)
    first_row = rail1.locator("text.row-label").first
    expect(first_row).to_have_text("gpu-node-2")  # failing nodes first

    red.hover()
    tooltip = page.locator("#hm-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_have_text(re.compile(r"gpu-node-2 → gpu-node-0 · no echo · loss 100%"))
    green = rail1.locator('rect.cell[data-source="gpu-node-0"][data-target="gpu-node-1"]')
    green.hover()
    expect(tooltip).to_have_text(re.compile(r"RTT 0\.0\d\d ms · loss 0% · RDMA 39\d\.\d Gb/s"))
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#hm-tooltip')).position") == "fixed"
    )

    shot = screenshot(page, tmp_path, "validation-fault.png")
    assert shot.stat().st_size > 20_000
    rails = page.locator("#validation-live").screenshot(path=str(tmp_path / "validation-rails.png"))
    assert rails

    with page.expect_download() as download:
        page.get_by_role("link", name="HTML report").click()
    report = download.value.path().read_text()
    assert "RAIL_LINK_DOWN" in report and 'class="cell fail"' in report

    page.goto(f"{live_server.url}/plans/{plan.slug}/")
    page.locator("nav.plan-tabs").get_by_role("link", name="Validations").click()
    expect(page).to_have_url(f"{live_server.url}/plans/{plan.slug}/validations/")
    row = page.locator("#plan-validation-runs tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"#{run.pk}")
    expect(row).to_contain_text("1 error, 0 warnings")
    expect(page.get_by_role("button", name="Validate on lab")).to_be_visible()
    screenshot(page, tmp_path, "plan-validations.png")
