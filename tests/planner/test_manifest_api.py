"""The manifests API: GET /api/plans/{plan}/manifests/ and POST /api/preflight/."""

import json

import pytest
import yaml
from rest_framework.test import APIClient

from planner import manifests

pytestmark = pytest.mark.django_db

BROKEN_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: |
      [{"name": "sriov-rail-0", "interface": "net1"},
       {"name": "sriov-rial-1", "interface": "net2"}]
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


def url(plan, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/plans/{plan}/manifests/" + (f"?{query}" if query else "")


def codes(body) -> list[str]:
    return [item["code"] for item in body["findings"]]


def templates(items) -> list[dict]:
    return [item for item in items if item["kind"] == "PodTemplate"]


def gpus(template) -> str:
    return template["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]


# ---------------------------------------------------------------------------------------------
# GET manifests


def test_json_bundle_equals_render_bundle_by_id_and_slug(viewer_api, seed_plan):
    expected = manifests.render_bundle(seed_plan.to_spec())
    for key in (seed_plan.id, seed_plan.slug):
        response = viewer_api.get(url(key, format="json"))
        assert response.status_code == 200
        body = response.json()
        assert body["items"] == expected
        assert (body["plan"], body["mode"], body["kind"]) == ("training", "nad", "bundle")
    assert body["counts"] == {"error": 0, "warning": 1, "info": 1}
    assert codes(body) == ["NUMA_SPLIT", "ROCE_DSCP_TRUST"]
    assert set(body["findings"][0]) == {"code", "severity", "object", "field", "message", "fix"}


def test_yaml_is_the_default_and_parses_back_to_the_same_objects(viewer_api, seed_plan):
    response = viewer_api.get(url("training"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    text = response.content.decode()
    assert text.count("\n---\n") == 8  # 9 documents
    assert list(yaml.safe_load_all(text)) == manifests.render_bundle(seed_plan.to_spec())


def test_yaml_is_served_whatever_the_accept_header(viewer_api, seed_plan):
    response = viewer_api.get(url("training", format="yaml"), HTTP_ACCEPT="application/yaml")
    assert response.status_code == 200
    assert "kind: NetworkAttachmentDefinition" in response.content.decode()


def test_compact_pod_option_per_numa_gives_two_templates_of_four_gpus(viewer_api, seed_plan):
    body = viewer_api.get(url("training", format="json", pod="layout:per-numa")).json()
    found = templates(body["items"])
    assert [item["metadata"]["name"] for item in found] == [
        "training-worker-numa0",
        "training-worker-numa1",
    ]
    assert [gpus(item) for item in found] == ["4", "4"]
    assert body["pod_options"] == {"layout": "per-numa"}
    assert "NUMA_SPLIT" not in codes(body)


def test_separate_pod_params_work_and_override_the_compact_form(viewer_api, seed_plan):
    body = viewer_api.get(
        url("training", format="json", pod="layout:per-numa,gpus:4", pod_gpus="2")
    ).json()
    assert [gpus(item) for item in templates(body["items"])] == ["2", "2"]
    alone = viewer_api.get(url("training", format="json", pod_layout="per-numa")).json()
    assert len(templates(alone["items"])) == 2


def test_compact_rails_list_keeps_its_commas(viewer_api, seed_plan):
    body = viewer_api.get(
        url("training", format="json", pod="rails:0,2,gpus:4,nccl_env:true")
    ).json()
    (template,) = templates(body["items"])
    annotation = template["template"]["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION]
    assert [entry["name"] for entry in json.loads(annotation)] == ["sriov-rail-0", "sriov-rail-2"]
    container = template["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert {item["name"] for item in container["env"]} >= {"NCCL_IB_HCA", "NCCL_SOCKET_IFNAME"}


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"pod": "gpus:many"}, "pod", "gpus must be a whole number"),
        ({"pod_gpus": "99"}, "pod", "gpus must be a whole number from 0 to 64"),
        ({"pod": "layout:sideways"}, "pod", "layout must be one of per-node, per-numa"),
        ({"pod": "colour:blue"}, "pod", "'colour' is not a known option"),
        ({"pod": "rails:0-9"}, "pod", "rails the plan does not have: 8-9"),
        ({"pod": "per-numa"}, "pod", "is not name:value"),
        ({"pod_nccl_env": "maybe"}, "pod", "nccl_env must be true or false"),
        ({"mode": "cilium"}, "mode", "must be one of nad, sriov-operator"),
        ({"kind": "Service"}, "kind", "must be one of bundle"),
        ({"format": "xml"}, "format", "must be yaml or json"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(viewer_api, seed_plan, params, field, reason):
    response = viewer_api.get(url("training", **params))
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert reason in " ".join(body[field])


def test_per_numa_without_numa_inventory_is_a_pod_error(viewer_api, seed_plan):
    seed_plan.nodes.all().delete()
    response = viewer_api.get(url("training", pod="layout:per-numa"))
    assert response.status_code == 400
    assert "per-numa layout needs the NUMA node" in response.json()["pod"][0]


def test_unknown_plan_is_404(viewer_api, seed_plan):
    assert viewer_api.get(url("no-such-plan")).status_code == 404
    assert viewer_api.get(url(seed_plan.id + 100)).status_code == 404


def test_kinds_and_the_operator_mode(viewer_api, seed_plan):
    jobs = viewer_api.get(url("training", format="json", kind="job")).json()["items"]
    assert [item["kind"] for item in jobs] == ["Job"]
    assert jobs[0]["spec"]["completions"] == 4
    pods = viewer_api.get(url("training", format="json", kind="pod")).json()["items"]
    assert [item["metadata"]["name"] for item in pods] == ["training-worker-0"]
    networks = viewer_api.get(
        url("training", format="json", kind="nads", mode="sriov-operator")
    ).json()["items"]
    assert {item["kind"] for item in networks} == {"SriovNetwork"} and len(networks) == 8
    bundle = viewer_api.get(url("training", format="json", mode="sriov-operator")).json()
    assert bundle["items"] == manifests.render_bundle(seed_plan.to_spec(), "sriov-operator")


def test_the_plans_own_pod_options_apply_and_are_overridden(viewer_api, seed_plan):
    seed_plan.pod_options = {"layout": "per-numa", "gpus": 2}
    seed_plan.save()
    stored = viewer_api.get(url("training", format="json")).json()
    assert [gpus(item) for item in templates(stored["items"])] == ["2", "2"]
    overridden = viewer_api.get(url("training", format="json", pod="layout:per-node")).json()
    assert [gpus(item) for item in templates(overridden["items"])] == ["2"]


# ---------------------------------------------------------------------------------------------
# POST preflight


def test_preflight_finds_ipc_lock_and_a_nad_typo_with_did_you_mean(viewer_api, seed_plan):
    response = viewer_api.post(
        "/api/preflight/", {"yaml": BROKEN_POD, "plan": "training"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["objects"] == 1
    assert codes(body)[:2] == ["NAD_NOT_FOUND", "IPC_LOCK_MISSING"]
    nad = body["findings"][0]
    assert "sriov-rial-1" in nad["message"] and 'Did you mean "sriov-rail-1"' in nad["message"]
    assert nad["fix"] == 'Use "sriov-rail-1"'
    assert body["counts"]["error"] == 2
    assert "SYS_NICE_MISSING" not in codes(body)


def test_preflight_by_plan_id_and_without_plan(viewer_api, seed_plan):
    by_id = viewer_api.post(
        "/api/preflight/", {"yaml": BROKEN_POD, "plan": seed_plan.id}, format="json"
    ).json()
    assert "NAD_NOT_FOUND" in codes(by_id)
    alone = viewer_api.post("/api/preflight/", {"yaml": BROKEN_POD}, format="json").json()
    assert codes(alone) == ["IPC_LOCK_MISSING", "NAD_UNVERIFIED"]


def test_preflight_uses_cluster_facts(viewer_api):
    facts = {"nads": [], "topology_policy": "single-numa-node"}
    body = viewer_api.post(
        "/api/preflight/", {"yaml": BROKEN_POD, "facts": facts}, format="json"
    ).json()
    assert codes(body).count("NAD_NOT_FOUND") == 2 and "NAD_UNVERIFIED" not in codes(body)


def test_preflight_bad_yaml_names_document_and_line(viewer_api):
    text = BROKEN_POD + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n"
    response = viewer_api.post("/api/preflight/", {"yaml": text}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["yaml"]
    assert message.startswith("document 2, line ")
    assert "invalid YAML" in message


def test_preflight_object_without_kind_names_the_document(viewer_api):
    text = BROKEN_POD + "---\nmetadata: {name: x}\n"
    response = viewer_api.post("/api/preflight/", {"yaml": text}, format="json")
    assert response.status_code == 400
    assert response.json()["yaml"] == [
        "document 2, line 23: the object has no apiVersion and no kind"
    ]


def test_preflight_oddly_shaped_objects_are_a_finding_not_a_500(viewer_api):
    odd = "apiVersion: v1\nkind: Pod\nmetadata: {name: odd}\nspec:\n  containers: 5\n"
    response = viewer_api.post(
        "/api/preflight/", {"yaml": odd + "---\n" + BROKEN_POD}, format="json"
    )
    assert response.status_code == 200
    found = {(f["code"], f["object"]) for f in response.json()["findings"]}
    assert ("OBJECT_MALFORMED", "Pod odd") in found
    assert any(code == "IPC_LOCK_MISSING" for code, _ in found)  # the other pod is still checked


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"yaml": BROKEN_POD, "plan": "no-such-plan"}, "plan", "No plan has the id or slug"),
        ({"yaml": BROKEN_POD, "plan": 999}, "plan", "'999'"),
        ({"yaml": ""}, "yaml", "may not be blank"),
        ({"plan": "training"}, "yaml", "required"),
        ({"yaml": BROKEN_POD, "facts": {"colour": "blue"}}, "facts", "colour is not a known fact"),
        ({"yaml": BROKEN_POD, "facts": {"nodes": "n1"}}, "facts", "nodes has the wrong type"),
        ({"yaml": BROKEN_POD, "facts": {"nads": [1]}}, "facts", "nads must be a list of mappings"),
        ({"yaml": BROKEN_POD, "facts": [1]}, "facts", "Expected a mapping"),
    ],
)
def test_preflight_bad_input_is_400_naming_the_field(viewer_api, seed_plan, payload, field, reason):
    response = viewer_api.post("/api/preflight/", payload, format="json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])


def test_preflight_accepts_raw_yaml_and_an_upload(viewer_api, seed_plan):
    raw = viewer_api.post(
        "/api/preflight/?plan=training", BROKEN_POD, content_type="application/yaml"
    )
    assert raw.status_code == 200 and "NAD_NOT_FOUND" in codes(raw.json())
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("pod.yaml", BROKEN_POD.encode(), content_type="application/yaml")
    uploaded = viewer_api.post(
        "/api/preflight/", {"file": upload, "plan": "training"}, format="multipart"
    )
    assert uploaded.status_code == 200 and codes(uploaded.json()) == codes(raw.json())
    binary = SimpleUploadedFile("pod.yaml", b"\xff\xfe\x00", content_type="application/yaml")
    refused = viewer_api.post("/api/preflight/", {"file": binary}, format="multipart")
    assert refused.status_code == 400 and "not UTF-8" in refused.json()["yaml"][0]


# ---------------------------------------------------------------------------------------------
# Access and schema


def test_anonymous_callers_are_refused(seed_plan):
    anonymous = APIClient()
    assert anonymous.get(url("training")).status_code in (401, 403)
    refused = anonymous.post("/api/preflight/", {"yaml": BROKEN_POD}, format="json")
    assert refused.status_code in (401, 403)


def test_a_user_without_a_role_is_refused(db, django_user_model, seed_plan):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(url("training")).status_code == 403
    refused = client.post("/api/preflight/", {"yaml": BROKEN_POD}, format="json")
    assert refused.status_code == 403


def test_both_endpoints_are_in_the_openapi_schema(viewer_api):
    schema = yaml.safe_load(viewer_api.get("/api/schema/").content)
    get = schema["paths"]["/api/plans/{plan}/manifests/"]["get"]
    names = {parameter["name"] for parameter in get["parameters"]}
    assert {"plan", "format", "mode", "kind", "pod", "pod_layout", "pod_gpus"} <= names
    assert set(get["responses"]["200"]["content"]) == {"application/json", "application/yaml"}
    post = schema["paths"]["/api/preflight/"]["post"]
    assert "application/json" in post["requestBody"]["content"]
    result = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][result.rsplit("/", 1)[1]]
    assert {"objects", "findings", "counts"} <= set(component["properties"])
