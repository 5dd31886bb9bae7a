"""CRUD on NetworkAttachmentDefinitions and core objects, and the exact Status bodies."""

import json

import pytest
from kubernetes import client

from tests.labsim.lab_helpers import NAMESPACE, create_nads, nad_body, pod_body, wait_until

pytestmark = pytest.mark.timeout(60)
NAD = ("k8s.cni.cncf.io", "v1", NAMESPACE, "network-attachment-definitions")
NAD_PATH = f"/apis/k8s.cni.cncf.io/v1/namespaces/{NAMESPACE}/network-attachment-definitions"


def _status(error: client.ApiException) -> dict:
    return json.loads(error.body)


def test_nad_create_get_list_update_delete(custom):
    created = custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    metadata = created["metadata"]
    assert metadata["namespace"] == NAMESPACE and metadata["generation"] == 1
    assert metadata["uid"] and metadata["creationTimestamp"]
    assert metadata["managedFields"][0]["manager"] == "OpenAPI-Generator"
    assert metadata["managedFields"][0]["operation"] == "Update"
    fetched = custom.get_namespaced_custom_object(*NAD, "rail-0")
    assert fetched == created
    listing = custom.list_namespaced_custom_object(*NAD)
    assert listing["kind"] == "NetworkAttachmentDefinitionList"
    assert [item["metadata"]["name"] for item in listing["items"]] == ["rail-0"]
    assert listing["items"][0]["kind"] == "NetworkAttachmentDefinition"

    fetched["spec"]["config"] = json.dumps({"cniVersion": "0.3.1", "type": "sriov"})
    updated = custom.replace_namespaced_custom_object(*NAD, "rail-0", fetched)
    assert int(updated["metadata"]["resourceVersion"]) > int(metadata["resourceVersion"])
    assert updated["metadata"]["generation"] == 2

    deleted = custom.delete_namespaced_custom_object(*NAD, "rail-0")
    assert deleted["status"] == "Success"
    assert deleted["details"]["name"] == "rail-0"
    assert deleted["details"]["kind"] == "network-attachment-definitions"
    with pytest.raises(client.ApiException) as raised:
        custom.delete_namespaced_custom_object(*NAD, "rail-0")
    assert raised.value.status == 404
    assert _status(raised.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'network-attachment-definitions.k8s.cni.cncf.io "rail-0" not found',
        "reason": "NotFound",
        "details": {
            "name": "rail-0",
            "group": "k8s.cni.cncf.io",
            "kind": "network-attachment-definitions",
        },
        "code": 404,
    }


def test_already_exists_status_is_verbatim(custom):
    custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    assert raised.value.status == 409
    body = raised.value.body
    body = body.decode() if isinstance(body, bytes) else body
    assert body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
        '"network-attachment-definitions.k8s.cni.cncf.io \\"rail-0\\" already exists",'
        '"reason":"AlreadyExists","details":{"name":"rail-0","group":"k8s.cni.cncf.io",'
        '"kind":"network-attachment-definitions"},"code":409}'
    )


def test_update_with_stale_resource_version_conflicts(custom):
    created = custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    fresh = dict(created, metadata={**created["metadata"]})
    custom.patch_namespaced_custom_object(*NAD, "rail-0", {"metadata": {"labels": {"rail": "0"}}})
    with pytest.raises(client.ApiException) as raised:
        custom.replace_namespaced_custom_object(*NAD, "rail-0", fresh)
    status = _status(raised.value)
    assert raised.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == (
        "Operation cannot be fulfilled on network-attachment-definitions.k8s.cni.cncf.io "
        '"rail-0": the object has been modified; please apply your changes to the latest '
        "version and try again"
    )


def test_invalid_name_and_schema_violation_are_422(custom):
    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(*NAD, nad_body(0, "Bad_Name"))
    status = _status(raised.value)
    assert raised.value.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == (
        'NetworkAttachmentDefinition.k8s.cni.cncf.io "Bad_Name" is invalid: metadata.name: '
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )
    assert status["details"]["kind"] == "NetworkAttachmentDefinition"
    assert status["details"]["causes"][0]["field"] == "metadata.name"

    body = nad_body(0, "d")
    body["spec"]["config"] = {"cniVersion": "0.3.1"}
    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(*NAD, body)
    assert raised.value.status == 422
    assert _status(raised.value)["message"] == (
        'NetworkAttachmentDefinition.k8s.cni.cncf.io "d" is invalid: spec.config: Invalid '
        'value: "object": spec.config in body must be of type string: "object"'
    )


def test_unknown_fields_are_pruned_from_custom_resources(custom):
    body = nad_body(0, "rail-0")
    body["spec"]["metaPluginsConfig"] = "{}"
    body["extra"] = True
    created = custom.create_namespaced_custom_object(*NAD, body)
    assert set(created["spec"]) == {"config"} and "extra" not in created


def test_missing_namespace_is_404(custom):
    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", "nope", "network-attachment-definitions", nad_body(0)
        )
    assert raised.value.status == 404
    assert _status(raised.value)["message"] == 'namespaces "nope" not found'


def test_dry_run_all_persists_nothing(lab, custom):
    _, before = lab.request("GET", "/api/v1/namespaces")
    version = before["metadata"]["resourceVersion"]
    dry = custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"), dry_run="All")
    assert dry["metadata"]["name"] == "rail-0" and "resourceVersion" not in dry["metadata"]
    assert custom.list_namespaced_custom_object(*NAD)["items"] == []
    custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    patched = custom.patch_namespaced_custom_object(
        *NAD, "rail-0", {"metadata": {"labels": {"x": "y"}}}, dry_run="All"
    )
    assert patched["metadata"]["labels"] == {"x": "y"}
    assert "labels" not in custom.get_namespaced_custom_object(*NAD, "rail-0")["metadata"]
    custom.delete_namespaced_custom_object(*NAD, "rail-0", dry_run="All")
    assert custom.get_namespaced_custom_object(*NAD, "rail-0")
    status, body = lab.request("DELETE", NAD_PATH + "/rail-0?dryRun=Bogus")
    assert (status, body["details"]["kind"]) == (422, "DeleteOptions")  # as the apiserver answers
    _, after = lab.request("GET", "/api/v1/namespaces")
    assert int(after["metadata"]["resourceVersion"]) == int(version) + 1  # the one real create


def test_label_and_field_selectors_and_pagination(lab, custom):
    create_nads(custom, rails=range(6))
    for rail in range(6):
        custom.patch_namespaced_custom_object(
            *NAD,
            f"sriov-rail-{rail}",
            {"metadata": {"labels": {"rail": str(rail), "numa": "0" if rail < 4 else "1"}}},
        )
    names = lambda listing: [i["metadata"]["name"] for i in listing["items"]]  # noqa: E731
    assert names(custom.list_namespaced_custom_object(*NAD, label_selector="numa=1")) == [
        "sriov-rail-4",
        "sriov-rail-5",
    ]
    assert len(custom.list_namespaced_custom_object(*NAD, label_selector="numa!=1")["items"]) == 4
    assert (
        len(custom.list_namespaced_custom_object(*NAD, label_selector="rail in (1,2)")["items"])
        == 2
    )
    assert len(custom.list_namespaced_custom_object(*NAD, label_selector="rail")["items"]) == 6
    assert custom.list_namespaced_custom_object(*NAD, label_selector="!rail")["items"] == []
    assert names(
        custom.list_namespaced_custom_object(*NAD, field_selector="metadata.name=sriov-rail-3")
    ) == ["sriov-rail-3"]
    status, body = lab.request("GET", NAD_PATH + "?fieldSelector=spec.config%3Dx")
    assert status == 400
    assert body["message"] == (
        '"spec.config" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    first = custom.list_namespaced_custom_object(*NAD, limit=4)
    assert len(first["items"]) == 4 and first["metadata"]["remainingItemCount"] == 2
    second = custom.list_namespaced_custom_object(
        *NAD, limit=4, _continue=first["metadata"]["continue"]
    )
    assert names(second) == ["sriov-rail-4", "sriov-rail-5"]
    assert second["metadata"]["continue"] == ""  # custom resource lists always carry it
    everywhere = custom.list_cluster_custom_object(
        "k8s.cni.cncf.io", "v1", "network-attachment-definitions"
    )
    assert len(everywhere["items"]) == 6


def test_core_pod_field_selectors(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    pod = lab.wait_for_pod(NAMESPACE, "worker-0")
    node = pod["spec"]["nodeName"]
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}")
    assert "worker-0" in {p.metadata.name for p in on_node.items}
    running = core.list_namespaced_pod(NAMESPACE, field_selector="status.phase=Running")
    assert [p.metadata.name for p in running.items] == ["worker-0"]
    assert core.list_namespaced_pod(NAMESPACE, field_selector="status.phase=Pending").items == []
    # hostNetwork unset reads as false, as the API server formats Go booleans
    pod_network = core.list_namespaced_pod(NAMESPACE, field_selector="spec.hostNetwork=false")
    assert [p.metadata.name for p in pod_network.items] == ["worker-0"]
    system = core.list_namespaced_pod("kube-system", field_selector="spec.hostNetwork=true")
    assert system.items and all(p.spec.host_network for p in system.items)
    status, body = lab.request("GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1")
    assert (status, body["message"]) == (400, "field label not supported: spec.bogus")


def test_merge_strategic_and_json_patches(lab, core, custom):
    custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    status, body = lab.request(
        "PATCH",
        NAD_PATH + "/rail-0",
        {"metadata": {"labels": {"a": "b"}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    status, body = lab.request(
        "PATCH",
        NAD_PATH + "/rail-0",
        [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
        content_type="application/json-patch+json",
    )
    assert status == 200 and body["metadata"]["labels"] == {"a": "b"}

    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="scratch")))
    core.create_namespaced_config_map(
        "scratch",
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="cm", labels={"a": "1"}), data={"k": "v"}
        ),
    )
    patched = core.patch_namespaced_config_map(
        "cm", "scratch", {"metadata": {"labels": {"b": "2", "a": None}}, "data": {"k2": "v2"}}
    )
    assert patched.metadata.labels == {"b": "2"} and patched.data == {"k": "v", "k2": "v2"}


def test_pod_spec_is_immutable_but_labels_are_not(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    lab.wait_for_pod(NAMESPACE, "worker-0")
    labelled = core.patch_namespaced_pod(
        "worker-0", NAMESPACE, {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled.metadata.labels == {"a": "b"}
    with pytest.raises(client.ApiException) as raised:
        core.patch_namespaced_pod("worker-0", NAMESPACE, {"spec": {"hostNetwork": True}})
    assert raised.value.status == 422
    assert "pod updates may not change fields other than" in _status(raised.value)["message"]


def test_read_only_and_missing_objects(lab, core):
    states = client.CustomObjectsApi(lab.api_client())
    listing = states.list_namespaced_custom_object(
        "sriovnetwork.openshift.io", "v1", "sriov-network-operator", "sriovnetworknodestates"
    )
    assert len(listing["items"]) == 4
    state = listing["items"][0]
    assert state["status"]["syncStatus"] == "Succeeded"
    assert len(state["status"]["interfaces"]) == 8
    assert len(state["status"]["interfaces"][0]["Vfs"]) == 8
    with pytest.raises(client.ApiException) as raised:
        states.delete_namespaced_custom_object(
            "sriovnetwork.openshift.io",
            "v1",
            "sriov-network-operator",
            "sriovnetworknodestates",
            "gpu-node-0",
        )
    assert raised.value.status == 405
    assert _status(raised.value)["reason"] == "MethodNotAllowed"
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_pod("ghost", NAMESPACE)
    assert _status(raised.value)["details"] == {"name": "ghost", "kind": "pods"}


def test_namespace_deletion_removes_its_contents(lab, core, custom):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="scratch")))
    assert wait_until(lambda: core.list_namespaced_config_map("scratch").items)[
        0
    ].metadata.name == ("kube-root-ca.crt")
    custom.create_namespaced_custom_object(
        "k8s.cni.cncf.io", "v1", "scratch", "network-attachment-definitions", nad_body(0)
    )
    deleted = core.delete_namespace("scratch")
    assert deleted["status"]["phase"] == "Terminating"  # the Namespace, as the apiserver answers
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_config_map(
            "scratch", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="late"))
        )
    assert raised.value.status == 403
    wait_until(lambda: "scratch" not in {n.metadata.name for n in core.list_namespace().items})
    everywhere = custom.list_cluster_custom_object(
        "k8s.cni.cncf.io", "v1", "network-attachment-definitions"
    )
    assert everywhere["items"] == []
    with pytest.raises(client.ApiException) as raised:
        core.delete_namespace("kube-system")
    assert raised.value.status == 403
    assert _status(raised.value)["message"] == (
        'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    )


def test_delete_collection_and_unscheduled_pod_deletion(lab, core, custom):
    create_nads(custom, rails=range(3))
    custom.delete_collection_namespaced_custom_object(*NAD)
    assert custom.list_namespaced_custom_object(*NAD)["items"] == []
    lab.set_fault(unregister_resource={"resource": "nvidia.com/gpu", "nodes": "all"})
    core.create_namespaced_pod(NAMESPACE, pod_body("stuck", rails=[], networks=""))
    deleted = core.delete_namespaced_pod("stuck", NAMESPACE)
    assert deleted.metadata.name == "stuck" and deleted.spec.node_name is None
    assert core.list_namespaced_pod(NAMESPACE).items == []
