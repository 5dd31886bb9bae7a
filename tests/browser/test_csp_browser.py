"""The Content-Security-Policy in headless Chromium: every main page loads, htmx swaps, the IP
map's drag and the Swagger UI work, and the browser reports no violation of the policy."""

import re

import pytest
from playwright.sync_api import expect

from clusters import snapshots
from clusters.models import Cluster, Rollout
from planner import documents
from planner.seed import seed_plan_spec
from tests.browser.helpers import log_in, make_user, screenshot
from tests.browser.test_planner_browser import drag_across
from tests.helpers import deploy_seed_scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every securitypolicyviolation event of every document the page loads, kept on the window.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def estate(lab, django_user_model):
    user = make_user(django_user_model, "otto", "operator")
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True, reachable=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    deploy_seed_scene(lab, plan, "ai-training")
    snapshots.refresh(cluster)
    rollout = Rollout.objects.create(
        cluster=cluster, plan=plan, plan_slug=plan.slug, revision=1, created_by=user,
        state="succeeded", dry_run=True,
    )  # fmt: skip
    return plan, cluster, rollout


def test_the_pages_work_under_the_content_security_policy(page, live_server, estate, tmp_path):
    plan, cluster, rollout = estate
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(LISTEN)
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server, "otto")

    def visit(path: str) -> None:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "Content-Security-Policy" in {key.title(): 1 for key in response.headers}
        page.wait_for_load_state("networkidle")
        violations.extend(page.evaluate("window.__csp"))

    for path in (
        "/",
        "/plans/",
        "/plans/new/",
        f"/plans/{plan.slug}/nodes/",
        "/lint/",
        "/clusters/",
        "/clusters/new/",
        f"/clusters/{cluster.pk}/",
        f"/clusters/{cluster.pk}/pods/",
        f"/clusters/{cluster.pk}/pods/ai-training/training-worker-0/",
        f"/rollouts/{rollout.pk}/",
        f"/plans/{plan.slug}/rollouts/",
        "/admin/",
    ):
        visit(path)

    # The manifests page: its controls re-render the body through htmx.
    visit(f"/plans/{plan.slug}/manifests/")
    page.locator("#manifest-controls label", has_text="Per NUMA node").click()
    expect(page).to_have_url(re.compile(r"layout=per-numa"))
    expect(page.locator("#manifests-body")).to_contain_text("numa")
    violations.extend(page.evaluate("window.__csp"))

    # The IP map: hovering reads out addresses, dragging excludes a block (ipmap.js + htmx).
    visit(f"/plans/{plan.slug}/")
    drag_across(page, page.locator("#rail-1 svg.ipmap"), 0.55, 0.70)
    expect(page.locator("#rail-1 .flash")).to_contain_text("Excluded 10.51.128.0/18")
    screenshot(page, tmp_path, "csp-plan.png", whole_page=False)
    violations.extend(page.evaluate("window.__csp"))

    # The API docs: Swagger UI from the sidecar's files, its start-up script a file too.
    visit("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Rail Studio API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    screenshot(page, tmp_path, "csp-docs.png", whole_page=False)
    violations.extend(page.evaluate("window.__csp"))

    # The browsable API: what a browser gets from an API URL (DRF's pages, highlighting too).
    visit(f"/api/rails/?plan={plan.pk}")
    expect(page.locator(".response-info")).to_contain_text("10.50.0.0/16")
    screenshot(page, tmp_path, "csp-browsable-api.png", whole_page=False)

    assert violations == [], "\n".join(violations)
