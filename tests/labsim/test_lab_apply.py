"""Server-side apply: 201 on create, 200 on update, field ownership and conflicts, dryRun."""

import json

import pytest
import yaml
from kubernetes import client
from kubernetes.dynamic.exceptions import ConflictError

from tests.labsim.lab_helpers import NAMESPACE, nad_body

pytestmark = pytest.mark.timeout(60)
NAD_PATH = f"/apis/k8s.cni.cncf.io/v1/namespaces/{NAMESPACE}/network-attachment-definitions"
APPLY = "application/apply-patch+yaml"


def _nads(lab):
    return lab.dynamic_client().resources.get(
        api_version="k8s.cni.cncf.io/v1", kind="NetworkAttachmentDefinition"
    )


def _manifest(config: str = '{"cniVersion":"0.3.1","type":"sriov"}') -> dict:
    body = nad_body(0, "rail-0")
    body["metadata"]["namespace"] = NAMESPACE
    body["spec"]["config"] = config
    return body


def test_apply_creates_with_201_then_updates_with_200(lab):
    document = yaml.safe_dump(_manifest()).encode()
    status, created = lab.request(
        "PATCH", NAD_PATH + "/rail-0?fieldManager=railstudio", document, content_type=APPLY
    )
    assert status == 201
    fields = created["metadata"]["managedFields"]
    assert [(f["manager"], f["operation"]) for f in fields] == [("railstudio", "Apply")]
    assert fields[0]["fieldsV1"] == {
        "f:metadata": {"f:annotations": {"f:k8s.v1.cni.cncf.io/resourceName": {}}},
        "f:spec": {"f:config": {}},
    }
    status, updated = lab.request(
        "PATCH",
        NAD_PATH + "/rail-0?fieldManager=railstudio",
        json.dumps(_manifest('{"cniVersion":"1.0.0","type":"sriov"}')).encode(),
        content_type=APPLY,
    )
    assert status == 200
    assert json.loads(updated["spec"]["config"])["cniVersion"] == "1.0.0"
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]


def test_dynamic_client_server_side_apply(lab):
    nads = _nads(lab)
    applied = nads.server_side_apply(_manifest(), field_manager="railstudio", force_conflicts=True)
    assert applied.metadata.name == "rail-0"
    again = nads.server_side_apply(_manifest(), field_manager="railstudio", force_conflicts=True)
    assert again.metadata.resourceVersion == applied.metadata.resourceVersion  # no-op apply
    dry = nads.server_side_apply(
        _manifest('{"changed":true}'),
        field_manager="railstudio",
        force_conflicts=True,
        dry_run="All",
    )
    assert dry.spec.config == '{"changed":true}'
    assert nads.get(name="rail-0", namespace=NAMESPACE).spec.config != '{"changed":true}'


def test_apply_conflicts_with_another_manager(lab):
    nads = _nads(lab)
    nads.server_side_apply(_manifest(), field_manager="operator-a")
    with pytest.raises(ConflictError) as raised:
        nads.server_side_apply(_manifest('{"cniVersion":"1.0.0"}'), field_manager="railstudio")
    status = json.loads(raised.value.body)
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert (
        status["message"]
        == 'Apply failed with 1 conflict: conflict with "operator-a": .spec.config'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "operator-a"',
            "field": ".spec.config",
        }
    ]
    forced = nads.server_side_apply(
        _manifest('{"cniVersion":"1.0.0"}'), field_manager="railstudio", force_conflicts=True
    )
    managers = {f["manager"]: f["fieldsV1"] for f in forced.to_dict()["metadata"]["managedFields"]}
    assert "f:config" in managers["railstudio"]["f:spec"]
    assert "f:spec" not in managers["operator-a"]


def test_apply_over_a_plain_update_names_the_update_manager(lab, custom):
    custom.create_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", NAMESPACE, "network-attachment-definitions", _manifest()
    )
    with pytest.raises(ConflictError) as raised:
        _nads(lab).server_side_apply(_manifest('{"other":1}'), field_manager="railstudio")
    assert json.loads(raised.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using '
        "k8s.cni.cncf.io/v1: .spec.config"
    )
    same = _nads(lab).server_side_apply(_manifest(), field_manager="railstudio")
    assert same.spec.config == _manifest()["spec"]["config"]  # same value: shared, no conflict


def test_apply_removes_fields_it_no_longer_applies(lab):
    nads = _nads(lab)
    with_label = _manifest()
    with_label["metadata"]["labels"] = {"rail": "0"}
    nads.server_side_apply(with_label, field_manager="railstudio")
    applied = nads.server_side_apply(_manifest(), field_manager="railstudio")
    assert not applied.metadata.labels


def test_apply_without_field_manager_is_422(lab):
    status, body = lab.request(
        "PATCH", NAD_PATH + "/rail-0", json.dumps(_manifest()).encode(), content_type=APPLY
    )
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )


def test_apply_on_pods_and_configmaps(lab):
    core = client.CoreV1Api(lab.api_client())
    cm = lab.dynamic_client().resources.get(api_version="v1", kind="ConfigMap")
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "nccl", "namespace": NAMESPACE},
        "data": {"NCCL_IB_HCA": "=mlx5_8"},
    }
    cm.server_side_apply(manifest, field_manager="railstudio")
    assert core.read_namespaced_config_map("nccl", NAMESPACE).data == {"NCCL_IB_HCA": "=mlx5_8"}
