"""Discovery, health, OpenAPI and authentication, as real clients see them."""

import json
import ssl
import urllib.error
import urllib.request

import pytest
from kubernetes import client

pytestmark = pytest.mark.timeout(60)


def test_version_and_api_roots_with_and_without_trailing_slash(shared_lab):
    for path in ("/version", "/version/"):
        status, body = shared_lab.request("GET", path)
        assert status == 200
        assert body["gitVersion"] == "v1.30.4"
        assert (body["major"], body["minor"]) == ("1", "30")
    for path in ("/api", "/api/"):
        status, body = shared_lab.request("GET", path)
        assert status == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    for path in ("/apis", "/apis/"):
        status, body = shared_lab.request("GET", path)
        assert body["kind"] == "APIGroupList"
        groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in body["groups"]}
        assert groups == {
            "apps": "apps/v1",
            "coordination.k8s.io": "coordination.k8s.io/v1",
            "apiextensions.k8s.io": "apiextensions.k8s.io/v1",
            "authorization.k8s.io": "authorization.k8s.io/v1",
            "k8s.cni.cncf.io": "k8s.cni.cncf.io/v1",
            "whereabouts.cni.cncf.io": "whereabouts.cni.cncf.io/v1alpha1",
            "sriovnetwork.openshift.io": "sriovnetwork.openshift.io/v1",
        }


def test_resource_lists_name_kinds_verbs_and_short_names(shared_lab):
    _, core = shared_lab.request("GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["kind"] == "Pod" and by_name["pods"]["shortNames"] == ["po"]
    assert {"pods/exec", "pods/log", "pods/status"} <= set(by_name)
    assert by_name["pods/exec"]["verbs"] == ["create", "get"]
    assert by_name["nodes"]["namespaced"] is False
    _, nads = shared_lab.request("GET", "/apis/k8s.cni.cncf.io/v1/")
    nad = nads["resources"][0]
    assert nads["groupVersion"] == "k8s.cni.cncf.io/v1"
    assert (nad["name"], nad["singularName"], nad["kind"], nad["shortNames"]) == (
        "network-attachment-definitions",
        "network-attachment-definition",
        "NetworkAttachmentDefinition",
        ["net-attach-def"],
    )
    assert set(nad["verbs"]) >= {"create", "get", "list", "patch", "update", "delete", "watch"}
    _, states = shared_lab.request("GET", "/apis/sriovnetwork.openshift.io/v1")
    assert states["resources"][0]["verbs"] == ["get", "list", "watch"]


def test_aggregated_discovery_request_falls_back_to_plain_json(shared_lab):
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    request = urllib.request.Request(
        shared_lab.url + "/apis",
        headers={"Authorization": f"Bearer {shared_lab.token}", "Accept": accept},
    )
    context = ssl.create_default_context(cafile=str(shared_lab.ca_path))
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(response.read())["kind"] == "APIGroupList"


def test_health_endpoints(shared_lab):
    for path in ("/healthz", "/readyz", "/livez"):
        assert shared_lab.request("GET", path) == (200, "ok")


def test_openapi_v2_as_json_and_protobuf(shared_lab):
    status, document = shared_lab.request("GET", "/openapi/v2")
    assert status == 200 and document["swagger"] == "2.0"
    definition = document["definitions"]["io.cncf.cni.k8s.v1.NetworkAttachmentDefinition"]
    assert definition["properties"]["spec"]["properties"]["config"]["type"] == "string"
    request = urllib.request.Request(
        shared_lab.url + "/openapi/v2",
        headers={
            "Authorization": f"Bearer {shared_lab.token}",
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        },
    )
    context = ssl.create_default_context(cafile=str(shared_lab.ca_path))
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        body = response.read()
    assert body.startswith(b"\n\x032.0\x12")  # field 1 "2.0", then field 2 (Info)
    top = dict(_fields(body))
    assert len(list(_fields(top[8]))) == len(document["paths"])  # Paths: one NamedPathItem each
    assert len(list(_fields(top[9]))) == len(document["definitions"])


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes):
    """(field number, payload) of each length-delimited field of a protobuf message."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        assert key & 7 == 2, "only length-delimited fields at this level"
        length, at = _varint(data, at)
        yield key >> 3, data[at : at + length]
        at += length


def test_openapi_v2_describes_every_served_kind_for_kubectl(shared_lab):
    """kubectl's dry-run check, diff and explain read the paths' actions and the definitions."""
    _, document = shared_lab.request("GET", "/openapi/v2")
    kinds = {}
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("x-kubernetes-action") == "patch":
                gvk = operation["x-kubernetes-group-version-kind"]
                names = [p.get("name") for p in operation["parameters"]]
                kinds[gvk["kind"]] = "dryRun" in names
    for kind in ("PodTemplate", "Pod", "Namespace", "ConfigMap", "Service", "Deployment",
                 "DaemonSet", "Event", "NetworkAttachmentDefinition", "IPPool"):  # fmt: skip
        assert kinds.get(kind) is True, kind
    assert "Node" in kinds and "SriovNetworkNodeState" not in kinds  # read-only there
    defined = {
        gvk["kind"]
        for schema in document["definitions"].values()
        for gvk in schema.get("x-kubernetes-group-version-kind") or []
    }
    assert {"Pod", "PodTemplate", "NetworkAttachmentDefinition", "IPPool", "Status"} <= defined


def test_request_without_token_gets_401_status(shared_lab):
    context = ssl.create_default_context(cafile=str(shared_lab.ca_path))
    request = urllib.request.Request(shared_lab.url + "/api/v1/nodes")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, context=context, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read()) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_wrong_token_is_rejected_by_the_official_client(shared_lab):
    api_client = shared_lab.api_client()
    api_client.configuration.refresh_api_key_hook = None
    api_client.configuration.api_key["BearerToken"] = "Bearer wrong"
    with pytest.raises(client.ApiException) as raised:
        client.CoreV1Api(api_client).list_node()
    assert raised.value.status == 401


def test_unknown_paths(shared_lab):
    status, body = shared_lab.request("GET", "/apis/example.com/v1/widgets")
    assert (status, body) == (404, "404 page not found\n")
    status, body = shared_lab.request("GET", "/api/v1/widgets")
    assert status == 404
    assert body["message"] == "the server could not find the requested resource"


def test_official_clients_discover_the_lab(shared_lab):
    assert client.VersionApi(shared_lab.api_client()).get_code().git_version == "v1.30.4"
    groups = client.ApisApi(shared_lab.api_client()).get_api_versions()
    assert "k8s.cni.cncf.io" in {g.name for g in groups.groups}
    dynamic = shared_lab.dynamic_client()
    nads = dynamic.resources.get(
        api_version="k8s.cni.cncf.io/v1", kind="NetworkAttachmentDefinition"
    )
    assert nads.namespaced and nads.name == "network-attachment-definitions"
    crds = client.ApiextensionsV1Api(shared_lab.api_client()).list_custom_resource_definition()
    assert {c.metadata.name for c in crds.items} == {
        "network-attachment-definitions.k8s.cni.cncf.io",
        "ippools.whereabouts.cni.cncf.io",
        "sriovnetworknodestates.sriovnetwork.openshift.io",
    }
