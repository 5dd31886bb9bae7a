"""The demo's lab content: the seed plan rolled out, the seed's training pod, and one broken pod
per row of the seed's failure table, each broken in exactly one way, so the cluster page has
something to show at first start.

Some failures need the lab to misbehave (a full whereabouts range, kubelets that run Topology
Manager). The command that starts the lab hands over its fault switch (`LabFaults`); this module
never talks to the lab's admin endpoint itself, and without the switch it creates only the pods
that need none.
"""

from __future__ import annotations

import copy
import time
from typing import Protocol

from django.conf import settings

from clusters import rollout, snapshots
from clusters.kube import Kube, KubeError
from clusters.models import Cluster
from clusters.validation.probe import node_agent_daemonset
from planner import manifests
from planner.models import Plan

NAMESPACE_RAILS = [0, 1, 2, 3]  # the walkthrough's pod: 4 rails + 8 GPUs
ADMISSION_TIMEOUT = 30  # seconds to wait for the pods created so far to be admitted
AGENT_NAMESPACE = "railstudio"


class LabFaults(Protocol):
    def set_faults(self, faults: dict) -> dict: ...

    def clear_faults(self, name: str | None = None) -> dict: ...


def _pod(plan: Plan, name: str, rails=NAMESPACE_RAILS, **limits) -> dict:
    pod = manifests.render_pod(plan.to_spec(), {"rails": list(rails)})[0]
    pod["metadata"]["name"] = name
    pod["spec"]["containers"][0]["resources"]["limits"].update(limits)
    return pod


def healthy_pod(plan: Plan) -> dict:
    return _pod(plan, "training-worker-0")


def broken_pods(plan: Plan) -> list[tuple[dict, dict | None, str | None]]:
    """(pod, lab fault to set before creating it, fault to clear once it is admitted)."""
    no_gpu = {"nvidia.com/gpu": "0"}
    typo = _pod(plan, "demo-nad-typo", **no_gpu)
    typo["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION] = (
        '[{"name": "sriov-rial-1", "interface": "net2"}]'
    )
    typo["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/rail1_vf": "1"}
    no_lock = _pod(plan, "demo-no-ipc-lock", **no_gpu)
    no_lock["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_NICE"]
    unregistered = _pod(plan, "demo-unregistered-vf", **no_gpu)
    unregistered["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/rail8_vf"] = "1"
    # 4 GPUs with rails of both sockets (2-5): kubelets running Topology Manager with the
    # single-numa-node policy refuse it, as the seed's failure table advises.
    numa = _pod(plan, "demo-numa-mismatch", rails=[2, 3, 4, 5], **{"nvidia.com/gpu": "4"})
    exhausted = _pod(plan, "demo-range-exhausted", **no_gpu)
    return [
        (typo, None, None),
        (no_lock, None, None),
        (unregistered, None, None),
        (numa, {"topology_policy": {"policy": "single-numa-node"}}, "topology_policy"),
        # Left on: rail 2's range stays full in the demo lab until you clear the lab's faults.
        (exhausted, {"exhaust_range": {"range": plan.rails.get(index=2).subnet}}, None),
    ]


def _admitted(pod: dict) -> bool:
    """Past the kubelet's admission (devices handed out, or refused), or never schedulable."""
    status = pod.get("status") or {}
    if status.get("hostIP") or status.get("phase") in ("Running", "Succeeded", "Failed"):
        return True
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in status.get("conditions") or []
    )


def wait_until_admitted(kube: Kube, namespace: str, names: list[str]) -> None:
    """A fault switched on now must not reach pods created before it (a kubelet admits a pod
    a little after it is created)."""
    deadline = time.monotonic() + ADMISSION_TIMEOUT
    while time.monotonic() < deadline:
        pods = {pod["metadata"]["name"]: pod for pod in kube.pods(namespace)}
        if all(_admitted(pods[name]) for name in names if name in pods):
            return
        time.sleep(0.1)


def populate(cluster: Cluster, plan: Plan, user=None, faults: LabFaults | None = None) -> list[str]:
    """Roll the plan out, then create the pods. Safe to run again: existing pods are kept."""
    record = rollout.request_rollout(cluster, plan, user)
    rollout.execute(record.pk)
    created = []
    with Kube(rollout.target_for(cluster)) as kube:
        # The node agent on every node: inspection's NUMA check reads devices through it.
        kube.ensure_namespace(AGENT_NAMESPACE)
        kube.apply(node_agent_daemonset(AGENT_NAMESPACE, settings.VALIDATION_AGENT_IMAGE))
        existing = {pod["metadata"]["name"] for pod in kube.pods(plan.namespace)}
        pods = [(healthy_pod(plan), None, None), *broken_pods(plan)]
        for pod, fault, cleared_after in pods:
            name = pod["metadata"]["name"]
            if name in existing or (fault and faults is None):
                continue
            if fault:
                wait_until_admitted(kube, plan.namespace, created)
                faults.set_faults(fault)
            try:
                kube.create_pod(copy.deepcopy(pod))
                created.append(name)
            except KubeError:
                continue
            finally:
                if cleared_after:
                    wait_until_admitted(kube, plan.namespace, [name])
                    faults.clear_faults(cleared_after)
        wait_until_admitted(kube, plan.namespace, created)
    time.sleep(1.5)  # let the lab's kubelet and CNI settle before the first snapshot
    snapshots.refresh(cluster)
    # A lab started again is empty, and an earlier run's drift check said so: check now, so the
    # dashboard does not call the new lab drifted until beat's next check.
    rollout.check_drift(cluster)
    return created
