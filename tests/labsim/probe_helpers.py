"""A probe DaemonSet like Rail Studio's (a tools container with the VFs and a node-agent
container with the PodResources socket), and exec through the official client."""

import json
import time

from kubernetes import client
from kubernetes.stream import stream

from tests.labsim.lab_helpers import NAMESPACE, nad_body

RAILS = range(8)


def probe_daemonset(name: str = "probe", nodes=None, gpus: int = 8) -> dict:
    limits = {f"nvidia.com/rail{r}_vf": "1" for r in RAILS}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    networks = [{"name": f"sriov-rail-{r}", "interface": f"net{r + 1}"} for r in RAILS]
    spec = {
        "volumes": [
            {"name": "pod-resources", "hostPath": {"path": "/var/lib/kubelet/pod-resources"}}
        ],
        "containers": [
            {
                "name": "probe",
                "image": "docker.io/mellanox/rping-test:latest",
                "command": ["sleep", "infinity"],
                "resources": {"limits": limits},
                "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
            },
            {
                "name": "agent",
                "image": "railstudio:latest",
                "command": ["python", "-m", "agent", "--idle"],
                "env": [
                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                ],
                "volumeMounts": [
                    {
                        "name": "pod-resources",
                        "mountPath": "/var/lib/kubelet/pod-resources",
                        "readOnly": True,
                    }
                ],
            },
        ],
    }
    if nodes is not None:
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}
                            ]
                        }
                    ]
                }
            }
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"k8s.v1.cni.cncf.io/networks": json.dumps(networks)},
                },
                "spec": spec,
            },
        },
    }


def create_rail_nads(lab) -> None:
    custom = client.CustomObjectsApi(lab.api_client())
    for rail in RAILS:
        custom.create_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", NAMESPACE, "network-attachment-definitions", nad_body(rail)
        )


def probe_pods(lab, app: str = "probe", count: int = 4, timeout: float = 10) -> dict:
    """{node: pod} once `count` pods of the DaemonSet run."""
    core = client.CoreV1Api(lab.api_client())
    deadline = time.monotonic() + timeout
    while True:
        pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"app={app}").items
        running = {p.spec.node_name: p for p in pods if p.status.phase == "Running"}
        if len(running) >= count or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


def rails_of(pod) -> list[dict]:
    """[{"ip", "interface", "rdma"}] per rail, from the pod's network-status."""
    status = json.loads(pod.metadata.annotations["k8s.v1.cni.cncf.io/network-status"])
    return [
        {
            "ip": entry["ips"][0],
            "interface": entry["interface"],
            "rdma": entry["device-info"]["pci"]["rdma-device"],
        }
        for entry in status[1:]
    ]


def run(lab, pod: str, command: list[str], container: str = "probe", timeout: float = 20):
    core = client.CoreV1Api(lab.api_client())
    response = stream(
        core.connect_get_namespaced_pod_exec, pod, NAMESPACE, command=command, container=container,
        stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False,
    )  # fmt: skip
    response.run_forever(timeout=timeout)
    return response.read_stdout(), response.read_stderr(), response.returncode
