"""Manifests and look-ups shared by the lab cluster tests."""

import json
import time

NAMESPACE = "ai-training"


def nad_body(
    rail: int,
    name: str | None = None,
    *,
    resource: bool = True,
    ipam: dict | None = None,
    config_name: str | None = None,
) -> dict:
    name = name or f"sriov-rail-{rail}"
    config = {
        "cniVersion": "0.3.1",
        "type": "sriov",
        "name": config_name or name,
        "ipam": ipam
        or {
            "type": "whereabouts",
            "range": f"10.5{rail}.0.0/16",
            "exclude": [f"10.5{rail}.0.0/24"],
        },
    }
    metadata = {"name": name}
    if resource:
        metadata["annotations"] = {"k8s.v1.cni.cncf.io/resourceName": f"nvidia.com/rail{rail}_vf"}
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": metadata,
        "spec": {"config": json.dumps(config)},
    }


def pod_body(
    name: str,
    rails=range(4),
    *,
    gpus: int = 8,
    vfs: dict | None = None,
    ipc_lock: bool = True,
    networks: str | None = None,
) -> dict:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    for rail in rails:
        limits[f"nvidia.com/rail{rail}_vf"] = "1"
    limits.update(vfs or {})
    annotation = networks
    if annotation is None:
        annotation = json.dumps(
            [
                {"name": f"sriov-rail-{rail}", "interface": f"net{i + 1}"}
                for i, rail in enumerate(rails)
            ]
        )
    container = {
        "name": "trainer",
        "image": "nvcr.io/nvidia/pytorch:24.04-py3",
        "resources": {"limits": limits},
    }
    if ipc_lock:
        container["securityContext"] = {"capabilities": {"add": ["IPC_LOCK", "SYS_NICE"]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": {"k8s.v1.cni.cncf.io/networks": annotation}},
        "spec": {"containers": [container]},
    }


def create_nads(custom_api, rails=range(4), namespace: str = NAMESPACE) -> None:
    for rail in rails:
        custom_api.create_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", namespace, "network-attachment-definitions", nad_body(rail)
        )


def events_for(core_api, name: str, namespace: str = NAMESPACE) -> list:
    events = core_api.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    ).items
    return sorted(events, key=lambda e: int(e.metadata.resource_version))


def wait_until(predicate, timeout: float = 10, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
