"""The Manifests tab and Lint YAML in headless Chromium: re-render in place, lint a pasted pod."""

import re

import pytest
from playwright.sync_api import expect

from planner import documents
from planner.seed import seed_plan_spec
from tests.browser.helpers import log_in, make_user, screenshot

MARKER = "no full reload happened"

LONG_IMAGE = "registry.example.com/" + "very-long-team-name/" * 8 + "pytorch:24.04-py3"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POD_WITHOUT_IPC_LOCK = """\
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: |
      [{"name": "sriov-rail-0", "interface": "net1"},
       {"name": "sriov-rail-1", "interface": "net2"}]
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    resources:
      limits:
        nvidia.com/gpu: 4
        nvidia.com/rail0_vf: 1
        nvidia.com/rail1_vf: 1
    securityContext:
      capabilities:
        add: ["SYS_NICE"]
"""


def log_in_as_viewer(page, live_server, django_user_model) -> None:
    make_user(django_user_model, "vera", "viewer")
    log_in(page, live_server, "vera")


def test_manifests_tab_rerenders_in_place_and_lint_finds_ipc_lock(
    page, live_server, django_user_model, tmp_path
):
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    plan.pod_options = {"image": LONG_IMAGE}  # a long YAML line must scroll, not overflow
    plan.save()
    log_in_as_viewer(page, live_server, django_user_model)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/plans/training/manifests/")

    objects = page.locator(".mf-object")
    expect(objects).to_have_count(9)  # 8 NADs + 1 PodTemplate
    expect(page.locator("#object-0 .highlight")).to_contain_text("sriov-rail-0")
    findings = page.locator("#findings .finding")
    expect(page.locator('#findings [data-code="NUMA_SPLIT"]')).to_have_count(1)
    before = findings.count()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    template_yaml = page.locator("#object-8 pre")
    assert template_yaml.evaluate("pre => pre.scrollWidth > pre.clientWidth")
    page.evaluate(f"window.railStudioMarker = '{MARKER}'")
    screenshot(page, tmp_path, "manifests-per-node.png")
    screenshot(page, tmp_path, "manifests-top.png", whole_page=False)

    page.get_by_role("radio", name="Per NUMA node").check()
    expect(objects).to_have_count(10)  # 8 NADs + 2 PodTemplates
    expect(page.locator("#object-9 h3")).to_have_text("training-worker-numa1")
    expect(page.locator('#findings [data-code="NUMA_SPLIT"]')).to_have_count(0)
    assert findings.count() == before - 1
    expect(page).to_have_url(re.compile(r"layout=per-numa"))
    assert page.evaluate("window.railStudioMarker") == MARKER
    screenshot(page, tmp_path, "manifests-per-numa.png")

    page.get_by_role("radio", name="Job", exact=True).check()
    expect(objects).to_have_count(2)
    expect(page.locator("#object-0 .kind-chip")).to_have_text("Job")
    page.locator("#object-0").get_by_role("button", name=re.compile("Copy")).click()
    expect(page.locator("#object-0 .button.copied")).to_have_text("Copied")
    page.locator("#object-0").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "manifests-job.png", whole_page=False)
    assert page.evaluate("window.railStudioMarker") == MARKER

    page.set_viewport_size({"width": 820, "height": 1000})  # one column, findings first
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, tmp_path, "manifests-narrow.png", whole_page=False)
    page.set_viewport_size({"width": 1440, "height": 1000})

    page.locator(".section-bar").get_by_role("link", name="Lint YAML").click()
    expect(page.get_by_role("heading", name="Lint YAML")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").locator('[aria-current="page"]')
    ).to_have_text("Lint YAML")
    page.get_by_label("YAML or JSON").fill(POD_WITHOUT_IPC_LOCK)
    page.get_by_label("Check against a plan").select_option(label=seed_plan_spec().name)
    page.get_by_role("button", name="Lint").click()
    ipc = page.locator('#lint-result [data-code="IPC_LOCK_MISSING"]')
    expect(ipc).to_have_count(1)
    expect(ipc).to_contain_text('Add "IPC_LOCK"')
    expect(page.locator('#lint-result [data-code="SYS_NICE_MISSING"]')).to_have_count(0)
    expect(page.get_by_label("YAML or JSON")).to_have_value(POD_WITHOUT_IPC_LOCK)
    screenshot(page, tmp_path, "lint-findings.png")

    broken = POD_WITHOUT_IPC_LOCK.replace("nvidia.com/gpu: 4", "nvidia.com/gpu: 4: 5")
    page.get_by_label("YAML or JSON").fill(broken)
    page.get_by_role("button", name="Lint").click()
    expect(page.locator("#lint-error")).to_contain_text("document 1, line 16")
    expect(page.locator("#lint-error .bad-line")).to_have_count(1)
    screenshot(page, tmp_path, "lint-yaml-error.png")
