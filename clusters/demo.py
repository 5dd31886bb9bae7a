"""The demo's lab content: the seed plan rolled out, the seed's training pod, and one broken pod
per row of the seed's failure table, so the cluster page has something to show at first start."""

from __future__ import annotations

import copy
import time

from clusters import rollout, snapshots
from clusters.kube import Kube, KubeError
from clusters.models import Cluster
from planner import manifests
from planner.models import Plan

NAMESPACE_RAILS = [0, 1, 2, 3]  # the walkthrough's pod: 4 rails + 8 GPUs


def _pod(plan: Plan, name: str, **limits) -> dict:
    pod = manifests.render_pod(plan.to_spec(), {"rails": NAMESPACE_RAILS})[0]
    pod["metadata"]["name"] = name
    pod["spec"]["containers"][0]["resources"]["limits"].update(limits)
    return pod


def broken_pods(plan: Plan) -> list[tuple[dict, dict | None]]:
    """(pod, lab fault to set before creating it) for each failure the demo shows."""
    typo = _pod(plan, "demo-nad-typo", **{"nvidia.com/gpu": "0"})
    typo["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION] = (
        '[{"name": "sriov-rial-1", "interface": "net2"}]'
    )
    typo["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/rail1_vf": "1"}
    no_lock = _pod(plan, "demo-no-ipc-lock", **{"nvidia.com/gpu": "0"})
    no_lock["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_NICE"]
    unregistered = _pod(plan, "demo-unregistered-vf", **{"nvidia.com/gpu": "0"})
    unregistered["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/rail8_vf"] = "1"
    numa = _pod(plan, "demo-numa-mismatch", **{"nvidia.com/gpu": "4"})
    exhausted = _pod(plan, "demo-range-exhausted", **{"nvidia.com/gpu": "0"})
    return [
        (typo, None),
        (no_lock, None),
        (unregistered, None),
        (numa, {"numa_mismatch": True}),
        # Left on: rail 2's range stays full in the demo lab until you clear the lab's faults.
        (exhausted, {"exhaust_range": {"range": plan.rails.get(index=2).subnet}}),
    ]


def _set_faults(cluster: Cluster, kube: Kube, faults: dict | None) -> None:
    if faults is None:
        kube._rest("DELETE", "/labsim/admin/faults")
    else:
        kube._rest("POST", "/labsim/admin/faults", body=faults)


def populate(cluster: Cluster, plan: Plan, user=None) -> list[str]:
    """Roll the plan out, then create the pods. Safe to run again: existing pods are kept."""
    record = rollout.request_rollout(cluster, plan, user)
    rollout.execute(record.pk)
    created = []
    with Kube(rollout.target_for(cluster)) as kube:
        existing = {pod["metadata"]["name"] for pod in kube.pods(plan.namespace)}
        pods = [(_pod(plan, "training-worker-0"), None), *broken_pods(plan)]
        for pod, faults in pods:
            if pod["metadata"]["name"] in existing:
                continue
            if faults:
                _set_faults(cluster, kube, faults)
            try:
                kube.create_pod(copy.deepcopy(pod))
                created.append(pod["metadata"]["name"])
            except KubeError:
                continue
            if faults and "numa_mismatch" in faults:
                time.sleep(1.0)  # devices are chosen as the pod is admitted; then clear it
                _set_faults(cluster, kube, None)
    time.sleep(1.5)  # let the lab's kubelet and CNI settle before the first snapshot
    snapshots.refresh(cluster)
    # A lab started again is empty, and an earlier run's drift check said so: check now, so the
    # dashboard does not call the new lab drifted until beat's next check.
    rollout.check_drift(cluster)
    return created
