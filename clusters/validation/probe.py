"""The probe DaemonSet of a validation run. Pure: a plan and the run's choices in, a manifest
out.

One pod per chosen node (required node affinity on metadata.name), in the plan's namespace,
attached to every rail through the plan's own NADs, with:
- a `probe` container (the tools image: iputils, perftest, librdmacm-utils, mlnx-tools) that
  holds the rails' VFs, one GPU per rail for GPUDirect (when asked), IPC_LOCK and NET_RAW, and
  only sleeps: the run execs its fixed commands in it;
- an `agent` container (Rail Studio's image) that runs the node agent (agent/) idle, with the
  kubelet's PodResources socket mounted read-only and NODE_NAME from the downward API; the run
  execs `python -m agent` in it.
Labelled railstudio.io/probe=<run id> so it is found and removed afterwards.
"""

from __future__ import annotations

from planner import manifests
from planner.planspec import PlanSpec

PROBE_LABEL = "railstudio.io/probe"
AGENT_LABEL = "railstudio.io/agent"
COMPONENT_LABEL = "app.kubernetes.io/component"
PROBE_CONTAINER = "probe"
AGENT_CONTAINER = "agent"
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"


def name_for(run_id: int) -> str:
    return f"railstudio-probe-{int(run_id)}"


def labels_for(run_id: int) -> dict:
    return {
        manifests.MANAGED_BY_LABEL: manifests.MANAGED_BY,
        COMPONENT_LABEL: "rail-probe",
        PROBE_LABEL: str(int(run_id)),
    }


def selector_for(run_id: int) -> str:
    return f"{PROBE_LABEL}={int(run_id)}"


def gpus_for(plan: PlanSpec, gpudirect: bool) -> int:
    """One GPU per rail for GPUDirect RDMA (rail r pairs with the pod's CUDA device r, as a
    rail-optimized server wires GPU r to NIC r)."""
    return len(plan.rails) if gpudirect else 0


def daemonset(
    plan: PlanSpec,
    run_id: int,
    nodes: list[str],
    *,
    probe_image: str,
    agent_image: str,
    gpudirect: bool = True,
) -> dict:
    rails = sorted(plan.rails, key=lambda rail: rail.index)
    options = manifests.PodOptions.build(plan)
    limits: dict[str, str] = {"cpu": "2", "memory": "2Gi"}
    counts: dict[str, int] = {}
    for rail in rails:
        if rail.resource_name:
            counts[rail.resource_name] = counts.get(rail.resource_name, 0) + 1
    gpus = gpus_for(plan, gpudirect)
    if gpus:
        counts[options.gpu_resource] = gpus
    limits.update({resource: str(count) for resource, count in counts.items()})
    labels = labels_for(run_id)
    pod_labels = {**labels, AGENT_LABEL: "true"}
    probe = {
        "name": PROBE_CONTAINER,
        "image": probe_image,
        "command": ["sleep", "infinity"],
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": limits},
        "securityContext": {"capabilities": {"add": ["IPC_LOCK", "NET_RAW"]}},
    }
    agent = {
        "name": AGENT_CONTAINER,
        "image": agent_image,
        "command": ["python", "-m", "agent", "--idle"],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
        "volumeMounts": [
            {"name": "pod-resources", "mountPath": POD_RESOURCES_DIR, "readOnly": True}
        ],
    }
    spec: dict = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": sorted(nodes)}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"operator": "Exists"}],
        "terminationGracePeriodSeconds": 2,
        "containers": [probe, agent],
        "volumes": [
            {"name": "pod-resources", "hostPath": {"path": POD_RESOURCES_DIR, "type": "Directory"}}
        ],
    }
    if options.node_selector:
        spec["nodeSelector"] = dict(options.node_selector)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name_for(run_id), "namespace": plan.namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {PROBE_LABEL: str(int(run_id))}},
            "updateStrategy": {"type": "OnDelete"},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {
                        manifests.NETWORKS_ANNOTATION: manifests.networks_annotation(
                            plan, rails, plan.namespace
                        )
                    },
                },
                "spec": spec,
            },
        },
    }


NODE_AGENT_NAME = "railstudio-node-agent"


def node_agent_daemonset(namespace: str, image: str) -> dict:
    """The node agent alone on every node (no VFs, no GPUs), for inspection's NUMA check: it
    reads the kubelet's PodResources, so it needs the hostPath mount (a namespace whose Pod
    Security level allows hostPath, e.g. privileged)."""
    labels = {
        manifests.MANAGED_BY_LABEL: manifests.MANAGED_BY,
        COMPONENT_LABEL: "node-agent",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": NODE_AGENT_NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {COMPONENT_LABEL: "node-agent"}},
            "template": {
                "metadata": {"labels": {**labels, AGENT_LABEL: "true"}},
                "spec": {
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 2,
                    "containers": [
                        {
                            "name": AGENT_CONTAINER,
                            "image": image,
                            "command": ["python", "-m", "agent", "--idle"],
                            "env": [
                                {
                                    "name": "NODE_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                }
                            ],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "32Mi"},
                                "limits": {"cpu": "200m", "memory": "128Mi"},
                            },
                            "securityContext": {
                                "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                            },
                            "volumeMounts": [
                                {
                                    "name": "pod-resources",
                                    "mountPath": POD_RESOURCES_DIR,
                                    "readOnly": True,
                                }
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "pod-resources",
                            "hostPath": {"path": POD_RESOURCES_DIR, "type": "Directory"},
                        }
                    ],
                },
            },
        },
    }
