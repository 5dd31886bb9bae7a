"""The system components a GPU cluster runs: their DaemonSets and Deployment, and the
Running pod each one has on every node."""

import json

from labsim.meta import name_suffix, new_uid, now_rfc3339, object_metadata
from labsim.spec import NodeSpec

_SYSTEM_TOLERATIONS = [
    {"operator": "Exists", "effect": "NoSchedule"},
    {"operator": "Exists", "effect": "NoExecute"},
]


def system_components(lab) -> list[tuple[str, str, str, str, str, str]]:
    """(DaemonSet, app label, container, image, cpu request, memory request) per component."""
    spec = lab.spec
    components = []
    if spec.components.multus:
        components.append(
            (
                "kube-multus-ds",
                "multus",
                "kube-multus",
                "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0-thick",
                "100m",
                "50Mi",
            )
        )
    if spec.components.sriov_device_plugin:
        components.append(
            (
                "sriov-device-plugin",
                "sriovdp",
                "kube-sriovdp",
                "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.7.0",
                "250m",
                "40Mi",
            )
        )
    if spec.components.whereabouts:
        components.append(
            (
                "whereabouts",
                "whereabouts",
                "whereabouts",
                "ghcr.io/k8snetworkplumbingwg/whereabouts:v0.8.0",
                "100m",
                "100Mi",
            )
        )
    network = spec.default_network
    if network.plugin == "calico":
        components.append(
            (
                network.daemonset,
                "calico-node",
                "calico-node",
                "docker.io/calico/node:v3.28.0",
                "250m",
                "0",
            )
        )
    else:
        components.append(
            (
                network.daemonset,
                "flannel",
                "kube-flannel",
                "docker.io/flannel/flannel:v0.25.4",
                "100m",
                "50Mi",
            )
        )
    return components


def daemonset_object(
    name: str, app: str, container: str, image: str, cpu: str, memory: str, nodes: int
) -> dict:
    labels = {"app": app, "name": app, "tier": "node"}
    requests = {"cpu": cpu}
    if memory != "0":
        requests["memory"] = memory
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": object_metadata(
            name,
            "kube-system",
            generation=1,
            labels=labels,
            annotations={"deprecated.daemonset.template.generation": "1"},
        ),
        "spec": {
            "selector": {"matchLabels": {"name": app}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "tolerations": _SYSTEM_TOLERATIONS,
                    "containers": [
                        {
                            "name": container,
                            "image": image,
                            "resources": {"requests": requests},
                            "securityContext": {"privileged": True},
                        }
                    ],
                    "serviceAccountName": app,
                },
            },
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
        "status": {
            "currentNumberScheduled": nodes,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": nodes,
            "numberReady": nodes,
            "observedGeneration": 1,
            "updatedNumberScheduled": nodes,
            "numberAvailable": nodes,
        },
    }


def coredns_deployment() -> dict:
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_metadata(
            "coredns",
            "kube-system",
            generation=1,
            labels=labels,
            annotations={"deployment.kubernetes.io/revision": "1"},
        ),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "coredns",
                            "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "70Mi"},
                                "limits": {"memory": "170Mi"},
                            },
                        }
                    ]
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"},
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
        },
    }


def system_pod(owner: dict, node: NodeSpec, pod_ip: str, host_network: bool) -> dict:
    template = owner["spec"]["template"]
    kind = owner["kind"]
    base = owner["metadata"]["name"]
    labels = dict(template["metadata"]["labels"])
    if kind == "DaemonSet":
        labels.update({"controller-revision-hash": "6f9c8b7d5c", "pod-template-generation": "1"})
        name = f"{base}-{name_suffix()}"
    else:
        labels["pod-template-hash"] = "5d78c9869d"
        name = f"{base}-5d78c9869d-{name_suffix()}"
    now = now_rfc3339()
    containers = json.loads(json.dumps(template["spec"]["containers"]))
    for container in containers:
        container.update(
            {
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
            }
        )
    spec = {
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": template["spec"].get("serviceAccountName", "default"),
        "nodeName": node.name,
        "hostNetwork": host_network,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": template["spec"].get("tolerations", []),
        "priorityClassName": "system-node-critical",
        "priority": 2000001000,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    if not host_network:
        del spec["hostNetwork"]
    conditions = [
        {"type": kind_, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        for kind_ in (
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        )
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": object_metadata(
            name,
            "kube-system",
            generateName=f"{base}-",
            labels=labels,
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet" if kind == "DaemonSet" else "ReplicaSet",
                    "name": base if kind == "DaemonSet" else f"{base}-5d78c9869d",
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        ),
        "spec": spec,
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": node.internal_ip,
            "hostIPs": [{"ip": node.internal_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
            "containerStatuses": [
                {
                    "name": c["name"],
                    "state": {"running": {"startedAt": now}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": c["image"],
                    "imageID": c["image"].rsplit(":", 1)[0]
                    + "@sha256:"
                    + new_uid().replace("-", "") * 2,
                    "containerID": "containerd://" + new_uid().replace("-", "") * 2,
                    "started": True,
                }
                for c in containers
            ],
            "qosClass": "Burstable",
        },
    }
