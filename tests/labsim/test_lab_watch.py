"""Watch: replay, resume from a resourceVersion, 410 Expired, timeouts, lifecycle events."""

import time

import pytest
from kubernetes import client, watch

from tests.labsim.lab_helpers import NAMESPACE, create_nads, nad_body, pod_body

pytestmark = pytest.mark.timeout(60)
NAD = ("k8s.cni.cncf.io", "v1", NAMESPACE, "network-attachment-definitions")


def test_watch_without_resource_version_replays_added_and_honours_timeout(custom):
    create_nads(custom, rails=range(2))
    started = time.monotonic()
    events = list(
        watch.Watch().stream(custom.list_namespaced_custom_object, *NAD, timeout_seconds=1)
    )
    assert 0.9 <= time.monotonic() - started < 5
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "sriov-rail-0"),
        ("ADDED", "sriov-rail-1"),
    ]


def test_watch_from_resource_version_sees_each_change_in_order(custom):
    version = custom.list_namespaced_custom_object(*NAD)["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    custom.patch_namespaced_custom_object(*NAD, "rail-0", {"metadata": {"labels": {"a": "b"}}})
    custom.delete_namespaced_custom_object(*NAD, "rail-0")
    events = list(
        watch.Watch().stream(
            custom.list_namespaced_custom_object, *NAD, resource_version=version, timeout_seconds=1
        )
    )
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert versions[0] > int(version)


def test_too_old_resource_version_is_410_expired(lab, custom):
    with pytest.raises(client.ApiException) as raised:
        list(
            watch.Watch().stream(
                custom.list_namespaced_custom_object, *NAD, resource_version="1", timeout_seconds=1
            )
        )
    assert raised.value.status == 410
    assert raised.value.reason.startswith("Expired: too old resource version: 1 (")
    status, body = lab.request(
        "GET",
        f"/apis/{'/'.join(NAD[:2])}/namespaces/{NAMESPACE}/"
        f"{NAD[3]}?watch=true&resourceVersion=1&timeoutSeconds=1",
    )
    assert status == 200
    assert body["type"] == "ERROR"
    assert body["object"]["reason"] == "Expired" and body["object"]["code"] == 410


def test_one_cluster_wide_resource_version(custom, core):
    nad = custom.create_namespaced_custom_object(*NAD, nad_body(0, "rail-0"))
    config_map = core.create_namespaced_config_map(
        NAMESPACE, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"))
    )
    assert int(config_map.metadata.resource_version) == int(nad["metadata"]["resourceVersion"]) + 1
    pods = core.list_pod_for_all_namespaces()
    assert int(pods.metadata.resource_version) >= int(config_map.metadata.resource_version)


def test_watchers_see_a_pod_go_from_pending_to_running(lab, core, custom):
    create_nads(custom)
    version = core.list_namespaced_pod(NAMESPACE).metadata.resource_version
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    seen = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_pod,
        NAMESPACE,
        resource_version=version,
        field_selector="metadata.name=worker-0",
        timeout_seconds=5,
    ):
        pod = event["object"]
        seen.append((event["type"], pod.status.phase, int(pod.metadata.resource_version)))
        if pod.status.phase == "Running":
            stream.stop()
    assert seen[0][:2] == ("ADDED", "Pending")
    assert seen[-1][:2] == ("MODIFIED", "Running")
    versions = [v for _, _, v in seen]
    assert versions == sorted(versions)
    statuses = [p for _, p, _ in seen]
    assert statuses.count("Pending") >= 3  # created, scheduled, ContainerCreating/network-status


def test_label_selected_watch_reports_objects_leaving_the_selection(custom):
    custom.create_namespaced_custom_object(
        *NAD, {**nad_body(0, "rail-0"), "metadata": {"name": "rail-0", "labels": {"a": "1"}}}
    )
    version = custom.list_namespaced_custom_object(*NAD)["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object(*NAD, "rail-0", {"metadata": {"labels": {"a": "2"}}})
    events = list(
        watch.Watch().stream(
            custom.list_namespaced_custom_object,
            *NAD,
            label_selector="a=1",
            resource_version=version,
            timeout_seconds=1,
        )
    )
    assert [e["type"] for e in events] == ["DELETED"]
