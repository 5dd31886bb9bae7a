"""Exec on pods that cannot run commands, and Lint YAML against the lab's live NADs, in headless
Chromium against the lab with a real worker. Screenshots go to /tmp/railstudio-shots/."""

import copy
import re

import pytest
import yaml
from playwright.sync_api import expect

from clusters import snapshots
from clusters.kube import Kube, Target
from clusters.models import Cluster, ExecRun, PodStatus
from planner import documents, manifests
from planner.seed import seed_plan_spec
from railstudio.roles import ensure_roles
from tests.browser.helpers import log_in, screenshot
from tests.helpers import deploy_seed_scene, wait_for

NS = "ai-training"
WORKER = "training-worker-0"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def unschedulable(pod: dict, name: str) -> dict:
    """The pod, asking for a VF resource no node advertises: it stays Pending with no host."""
    pod = copy.deepcopy(pod)
    pod["metadata"] = {
        "name": name,
        "namespace": NS,
        "annotations": pod["metadata"]["annotations"],
    }
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/rail9_vf"] = "1"
    return pod


@pytest.fixture
def lab_scene(lab, django_user_model):
    """An operator; the seed plan bound to the lab; its NADs, the training pod, and a pod no node
    can take; a snapshot of them."""
    ensure_roles()
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="otto", password="pw-otto")
    user.groups.add(Group.objects.get(name="operator"))
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster(name="lab", server=lab.url, is_lab=True, reachable=True)
    cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
    cluster.save()
    cluster.plans.add(plan)
    deploy_seed_scene(lab, plan, NS)
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    template = manifests.render_pod(plan.to_spec(), {"rails": [0, 1]})[0]
    kube.create_pod(unschedulable(template, "pending"))
    wait_for(lambda: snapshots.refresh(cluster) and PodStatus.objects.filter(name="pending"))
    yield cluster, kube, template
    kube.close()


def test_exec_on_a_pending_pod_says_why_and_a_refusal_reads_as_the_api_server_said_it(
    page, live_server, lab_scene, celery_worker_thread, tmp_path
):
    cluster, kube, template = lab_scene
    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, "otto")

    # A pod no node took: no command buttons, and the reason in their place.
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/pods/{NS}/pending/")
    panel = page.locator("#exec")
    expect(panel.locator("#exec-unavailable")).to_contain_text(
        "Commands need a running container: pending is Pending and not scheduled to a node yet"
    )
    expect(panel.locator("#exec-unavailable")).to_contain_text("Insufficient nvidia.com/rail9_vf")
    expect(panel.get_by_role("button")).to_have_count(0)
    panel.scroll_into_view_if_needed()
    screenshot(page, tmp_path, "exec-pending.png", whole_page=False)

    # A stale snapshot: it still shows the worker running, but the pod was replaced meanwhile
    # by one that no node takes. The exec the page offers is refused by the API server, and
    # the page says what the server said.
    page.goto(f"{live_server.url}/clusters/{cluster.pk}/pods/{NS}/{WORKER}/")
    expect(panel.get_by_role("button", name="ip -br addr")).to_be_visible()
    kube.delete("v1", "Pod", WORKER, NS)
    wait_for(lambda: kube.get("v1", "Pod", WORKER, NS) is None)
    kube.create_pod(unschedulable(template, WORKER))
    panel.get_by_role("button", name="ip -br addr").click()
    error = page.locator("#exec-output .exec-error")
    expect(error).to_have_text(
        f"Error from server (BadRequest): pod {WORKER} does not have a host assigned",
        timeout=30_000,
    )
    expect(page.locator("#exec-output")).not_to_contain_text("Handshake")
    expect(page.locator("#exec-output")).not_to_contain_text("-+-+-")
    run = ExecRun.objects.get()
    assert run.error.startswith("Error from server (BadRequest)") and run.exit_code is None
    panel.scroll_into_view_if_needed()
    screenshot(page, tmp_path, "exec-refused.png", whole_page=False)


def test_lint_checks_pasted_yaml_against_the_labs_live_nads(page, live_server, lab_scene, tmp_path):
    cluster, _, template = lab_scene
    pod = copy.deepcopy(template)
    pod["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION] = (
        '[{"name": "sriov-rail-0", "interface": "net1"}, {"name": "sriov-rial-1", "interface": "net2"}]'
    )
    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, "otto")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lint YAML").click()
    page.get_by_label("YAML or JSON").fill(yaml.safe_dump(pod))
    page.get_by_label("…and against a cluster's live NADs").select_option(label="lab (lab)")
    page.get_by_role("button", name="Lint").click()
    expect(page.locator("#lint-against")).to_contain_text(
        re.compile(r"Checked against lab: 8 NADs in 1 namespace, 4 nodes, read at .* UTC in")
    )
    nad = page.locator('#lint-result [data-code="NAD_NOT_FOUND"]')
    expect(nad).to_have_count(1)
    expect(nad).to_contain_text('Did you mean "sriov-rail-1"?')
    expect(page.locator('#lint-result [data-code="NAD_UNVERIFIED"]')).to_have_count(0)
    screenshot(page, tmp_path, "lint-against-cluster.png")


def test_a_rollout_that_changes_nothing_takes_no_revision_number(
    page, live_server, lab_scene, celery_worker_thread, tmp_path
):
    cluster, _, _ = lab_scene
    plan = cluster.plans.get()
    page.set_viewport_size({"width": 1360, "height": 900})
    log_in(page, live_server, "otto")
    for expected in ("r1", "no changes"):
        page.goto(f"{live_server.url}/plans/{plan.slug}/")
        page.locator("#plan-rollout-panel").get_by_role("button", name="Roll out to lab").click()
        expect(page.locator("#rollout-live [data-state]")).to_have_text("succeeded", timeout=60_000)
        expect(page.locator("#rollout-revision")).to_have_text(expected)  # updated in place
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Rollout #\d+"))
    expect(page.get_by_role("link", name=re.compile("Roll back"))).to_have_count(0)
    page.goto(f"{live_server.url}/plans/{plan.slug}/rollouts/")
    history = page.locator(".rollout-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0).locator(".revision")).to_have_text("no changes")
    expect(history.nth(1).locator(".revision")).to_have_text("r1")
    screenshot(page, tmp_path, "rollouts-no-changes.png")
