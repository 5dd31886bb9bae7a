"""The Manifests tab and the Lint YAML page through Django's test client."""

import html as html_lib
import re

import pytest
import yaml
from django.urls import reverse

from planner import manifests

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BROKEN_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: sriov-rail-0@net1, sriov-rial-1@net2
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    resources:
      limits:
        nvidia.com/rail0_vf: 1
        nvidia.com/rail1_vf: 1
"""


def text_of(response) -> str:
    return html_lib.unescape(response.content.decode())


def tab_url(plan, **params) -> str:
    base = reverse("plan-manifests", args=[plan.slug])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def finding_codes(response) -> list[str]:
    return re.findall(r'data-code="([A-Z_]+)"', response.content.decode())


# ---------------------------------------------------------------------------------------------
# Manifests tab


def test_the_tab_shows_highlighted_yaml_findings_and_ip_preview_to_a_viewer(as_viewer, seed_plan):
    response = as_viewer.get(tab_url(seed_plan))
    assert response.status_code == 200
    page = text_of(response)
    assert page.count('class="card mf-object"') == 9
    assert '<div class="highlight"><pre>' in page  # Pygments markup
    assert '<span class="nt">kind</span>' in page  # a highlighted YAML key
    assert '<link rel="stylesheet" href="/highlight.css">' in page  # a file: the CSP allows
    assert ".highlight .nt" in as_viewer.get("/highlight.css").content.decode()  # no <style>
    assert finding_codes(response) == ["NUMA_SPLIT", "ROCE_DSCP_TRUST"]
    assert 'class="sev sev-warning">warning</span>' in page
    assert "Use one pod per NUMA node" in page  # the fix
    assert re.search(r'id="preview-rail-7".*?10\.57\.1\.0.*?10\.57\.1\.3', page, re.S)
    assert "10.57.1.4" not in page  # four pods by default
    assert 'aria-current="page">Manifests</a>' in page
    assert f'href="{reverse("plan-nodes", args=[seed_plan.slug])}"' in page
    assert f'href="{reverse("plan-detail", args=[seed_plan.slug])}"' in page  # Overview


def test_changing_the_mode_returns_only_the_partial(as_viewer, seed_plan):
    response = as_viewer.get(tab_url(seed_plan, mode="sriov-operator"), **HTMX)
    assert response.status_code == 200
    page = text_of(response)
    assert page.lstrip().startswith('<div id="manifests-body"')
    assert "<html" not in page and "manifest-controls" not in page
    assert page.count('<span class="kind-chip">SriovNetwork</span>') == 8
    assert "NetworkAttachmentDefinition" not in page
    assert "HX-Request" in response["Vary"]
    full = as_viewer.get(tab_url(seed_plan, mode="sriov-operator"))
    assert "<html" in full.content.decode()
    assert 'value="sriov-operator" checked' in full.content.decode()


def test_per_numa_layout_gives_two_templates_and_drops_numa_split(as_viewer, seed_plan):
    response = as_viewer.get(tab_url(seed_plan, layout="per-numa", kind="podtemplates"), **HTMX)
    page = text_of(response)
    assert re.findall(r'<h3 class="mono">([^<]+)</h3>', page) == [
        "training-worker-numa0",
        "training-worker-numa1",
    ]
    assert "NUMA_SPLIT" not in finding_codes(response)


def test_rails_gpus_and_nccl_controls_shape_the_pod(as_viewer, seed_plan):
    response = as_viewer.get(
        tab_url(seed_plan, kind="pod", rails="1", gpus="2", nccl_env="true", preview="2"), **HTMX
    )
    page = text_of(response)
    assert page.count('class="card mf-object"') == 1
    objects = page.split('class="mf-side"')[0]
    assert "sriov-rail-1" in objects and "sriov-rail-0" not in objects
    assert "NCCL_IB_HCA" in page and "=mlx5_1" in page
    assert re.search(r"nvidia\.com/gpu</span>.*?'2'", page, re.S)
    assert 'id="preview-rail-1"' in page and 'id="preview-rail-0"' not in page
    assert "10.51.1.1" in page and "10.51.1.2" not in page


def test_bad_options_show_the_reason_inline_not_a_500(as_viewer, seed_plan):
    response = as_viewer.get(tab_url(seed_plan, gpus="99"), **HTMX)
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="manifest-errors"' in page
    assert "gpus must be a whole number from 0 to 64" in page
    assert 'class="card mf-object"' not in page
    assert "POD_OPTION_INVALID" in finding_codes(response)
    for params in ({"mode": "x"}, {"kind": "x"}, {"layout": "x"}, {"preview": "x"}):
        assert as_viewer.get(tab_url(seed_plan, **params)).status_code in (200, 422)


def test_the_tab_needs_a_role_and_an_existing_plan(client, django_user_model, viewer, seed_plan):
    assert client.get(tab_url(seed_plan)).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(tab_url(seed_plan)).status_code == 403
    client.force_login(viewer)
    assert client.get(reverse("plan-manifests", args=["no-such-plan"])).status_code == 404


def test_download_gives_the_whole_bundle_as_an_attachment(as_viewer, seed_plan):
    url = reverse("plan-manifests-download", args=[seed_plan.slug]) + "?layout=per-numa"
    response = as_viewer.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml"
    assert response["Content-Disposition"] == 'attachment; filename="training-bundle.yaml"'
    spec = seed_plan.to_spec()
    expected = manifests.render_bundle(spec, "nad", {"layout": "per-numa"})
    assert list(yaml.safe_load_all(response.content)) == expected
    page = text_of(as_viewer.get(tab_url(seed_plan, layout="per-numa")))
    assert (
        'id="download-all" href="/plans/training/manifests/download/?mode=nad&kind=bundle&layout=per-numa'
        in page
    )


def test_download_of_one_object_and_bad_requests(as_viewer, seed_plan):
    base = reverse("plan-manifests-download", args=[seed_plan.slug])
    one = as_viewer.get(base + "?kind=job&index=0")
    assert one["Content-Disposition"] == 'attachment; filename="job-training-worker.yaml"'
    (job,) = yaml.safe_load_all(one.content)
    assert job["kind"] == "Job"
    assert as_viewer.get(base + "?index=9").status_code == 400
    bad = as_viewer.get(base + "?gpus=-1")
    assert bad.status_code == 400 and b"gpus must be a whole number" in bad.content


# ---------------------------------------------------------------------------------------------
# Lint YAML


def test_lint_page_renders_for_a_viewer(as_viewer, seed_plan):
    response = as_viewer.get(reverse("lint"))
    assert response.status_code == 200
    page = text_of(response)
    assert "<textarea" in page and 'name="csrfmiddlewaretoken"' in page
    assert f'<option value="{seed_plan.pk}"' in page


def test_lint_finds_a_broken_pods_problems_and_keeps_the_text(as_viewer, seed_plan):
    response = as_viewer.post(reverse("lint"), {"yaml": BROKEN_POD, "plan": seed_plan.pk})
    assert response.status_code == 200
    codes = finding_codes(response)
    assert codes[:2] == ["NAD_NOT_FOUND", "IPC_LOCK_MISSING"]
    page = text_of(response)
    assert 'Did you mean "sriov-rail-1"?' in page
    assert 'Add "IPC_LOCK" to securityContext.capabilities.add.' in page
    assert "Read 1 object: Pod ai-training/training-worker-0" in page
    assert BROKEN_POD in page  # kept in the textarea
    assert f'<option value="{seed_plan.pk}" selected>' in page


def test_lint_without_a_plan_and_via_htmx(as_viewer):
    response = as_viewer.post(reverse("lint"), {"yaml": BROKEN_POD}, **HTMX)
    assert response.content.decode().lstrip().startswith('<div id="lint-panel"')
    assert finding_codes(response) == ["IPC_LOCK_MISSING", "SYS_NICE_MISSING", "NAD_UNVERIFIED"]


def test_lint_broken_yaml_names_document_and_line_and_keeps_the_text(as_viewer):
    text = BROKEN_POD + "---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: [x\n"
    response = as_viewer.post(reverse("lint"), {"yaml": text})
    assert response.status_code == 422
    page = text_of(response)
    assert re.search(r"document 2, line \d+: invalid YAML", page)
    assert '<span class="bad-line">' in page
    assert text in page
    assert "data-code=" not in page


def test_lint_reads_an_uploaded_file(as_viewer, seed_plan):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("pod.yaml", BROKEN_POD.encode())
    response = as_viewer.post(reverse("lint"), {"file": upload, "yaml": "", "plan": ""})
    assert "IPC_LOCK_MISSING" in finding_codes(response)
    assert BROKEN_POD in text_of(response)  # the file's text is shown for editing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"yaml": "   "}, "Paste some YAML"),
        ({"yaml": BROKEN_POD, "plan": "99999"}, "That plan no longer exists"),
        ({"yaml": "- 1\n- 2\n"}, "document 1, line 1: expected a Kubernetes object"),
    ],
)
def test_lint_bad_input_is_explained(as_viewer, data, message):
    response = as_viewer.post(reverse("lint"), data)
    assert response.status_code == 422
    assert message in text_of(response)


def test_lint_reports_an_oddly_shaped_object_as_a_finding(as_viewer):
    response = as_viewer.post(reverse("lint"), {"yaml": "apiVersion: v1\nkind: Pod\nspec: 5\n"})
    assert response.status_code == 200
    assert "OBJECT_MALFORMED" in finding_codes(response)


def test_lint_needs_a_login_and_a_role(client, django_user_model):
    assert client.post(reverse("lint"), {"yaml": BROKEN_POD}).status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.post(reverse("lint"), {"yaml": BROKEN_POD}).status_code == 403


def test_lint_post_requires_csrf(viewer):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(viewer)
    assert strict.post(reverse("lint"), {"yaml": BROKEN_POD}).status_code == 403
    page = strict.get(reverse("lint"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    allowed = strict.post(reverse("lint"), {"yaml": BROKEN_POD, "csrfmiddlewaretoken": token})
    assert allowed.status_code == 200
