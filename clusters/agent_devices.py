"""Which devices (GPUs, VFs) each pod got and their NUMA nodes, from Rail Studio's node agent
(agent/) on every cluster, real or lab: the agent reads the kubelet's PodResources API on its
node. Inspection's NUMA check uses this (clusters.inspect, `devices`).

The agents are pods labelled railstudio.io/agent=true with an `agent` container: the node-agent
DaemonSet (`python manage.py node_agent` prints it) or a validation's probe pods. Without an
agent on a node, NUMA is judged from node facts and the plan's NIC inventory.

A pod's devices do not change while it lives, so what an agent said is remembered by pod uid
(per cluster, in the worker), and a refresh asks only the nodes where a pod is new: one exec per
node, at most AGENT_NODE_LOOKUPS per refresh.
"""

from __future__ import annotations

from collections import OrderedDict

from clusters.kube import ExecJob, Kube
from clusters.validation import parsers
from clusters.validation.commands import AGENT_COMMAND
from clusters.validation.probe import AGENT_CONTAINER, AGENT_LABEL
from planner.manifests import DEFAULT_GPU_RESOURCE, NETWORKS_ANNOTATION

AGENT_NODE_LOOKUPS = 64
REMEMBERED_PODS = 100_000
TERMINAL = ("Succeeded", "Failed")


def _ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def agent_pods(pods: list[dict]) -> dict[str, dict]:
    """{node: a Ready agent pod on it}."""
    agents = {}
    for pod in pods:
        metadata = pod.get("metadata") or {}
        if (metadata.get("labels") or {}).get(AGENT_LABEL) != "true" or not _ready(pod):
            continue
        containers = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []}
        node = (pod.get("spec") or {}).get("nodeName")
        if node and AGENT_CONTAINER in containers:
            agents.setdefault(node, pod)
    return agents


def pod_entry(pod: dict, gpu_resource: str = DEFAULT_GPU_RESOURCE) -> dict:
    """The agent's view of one pod in inspection's `devices` shape."""
    gpus, vfs = [], []
    for container in pod.get("containers") or []:
        for item in container.get("devices") or []:
            if not isinstance(item, dict):
                continue
            numa = [n for n in item.get("numa_nodes") or [] if isinstance(n, int)]
            for device_id in item.get("ids") or []:
                entry = {"numa_node": numa[0] if len(numa) == 1 else None}
                if item.get("resource") == gpu_resource:
                    gpus.append({"uuid": str(device_id), **entry})
                else:
                    vfs.append({"resource": item.get("resource"), "pci": str(device_id), **entry})
    return {"gpus": gpus, "vfs": vfs, "source": "node agent (kubelet PodResources)"}


def collect(
    kube: Kube, pods: list[dict], remembered: OrderedDict | None = None, parallel: int = 8
) -> dict[str, dict]:
    """{"namespace/pod": devices} for the pods that ask for secondary networks, from the node
    agents (remembered ones first)."""
    remembered = remembered if remembered is not None else OrderedDict()
    agents = agent_pods(pods)
    devices: dict[str, dict] = {}
    uids: dict[str, str] = {}
    nodes: set[str] = set()
    for pod in pods:
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        if NETWORKS_ANNOTATION not in (metadata.get("annotations") or {}):
            continue
        if (pod.get("status") or {}).get("phase") in TERMINAL or not spec.get("nodeName"):
            continue
        key = f"{metadata.get('namespace')}/{metadata.get('name')}"
        uid = metadata.get("uid") or key
        if uid in remembered:
            devices[key] = remembered[uid]
            continue
        uids[key] = uid
        if spec["nodeName"] in agents:
            nodes.add(spec["nodeName"])
    jobs = []
    for node in sorted(nodes)[:AGENT_NODE_LOOKUPS]:
        agent = agents[node]["metadata"]
        jobs.append(ExecJob(agent["namespace"], agent["name"], AGENT_COMMAND, AGENT_CONTAINER, 30))
    for _, output, error in kube.exec_many(jobs, parallel):
        if error is not None:
            continue
        report = parsers.agent(output[0], output[2])
        for pod in report.pods:
            key = f"{pod.get('namespace')}/{pod.get('name')}"
            if key in uids:
                devices[key] = remembered[uids[key]] = pod_entry(pod)
    while len(remembered) > REMEMBERED_PODS:
        remembered.popitem(last=False)
    return devices
