import pytest

from clusters import demo
from clusters.models import PodStatus

pytestmark = pytest.mark.django_db

BROKEN = {
    "demo-nad-typo": "NAD_NOT_FOUND",
    "demo-no-ipc-lock": "IPC_LOCK_MISSING",
    "demo-unregistered-vf": "RESOURCE_NOT_ADVERTISED",
    "demo-range-exhausted": "RANGE_EXHAUSTED",
    "demo-numa-mismatch": "TOPOLOGY_AFFINITY",
}


def test_the_demo_lab_shows_the_seed_pod_and_the_failure_table(lab, lab_cluster, seed_plan):
    lab_cluster.is_lab = True
    lab_cluster.save()
    created = demo.populate(lab_cluster, seed_plan, faults=lab)
    assert "training-worker-0" in created and len(created) == 6
    rows = {row.name: row for row in PodStatus.objects.filter(cluster=lab_cluster)}

    # The healthy pod is healthy in every respect, NUMA included (what the lab gave it).
    healthy = rows["training-worker-0"]
    assert healthy.ok and healthy.codes == "" and healthy.phase == "Running", healthy.codes
    devices = lab.pod_devices("ai-training", "training-worker-0")
    gpu_numa = {gpu["numa_node"] for gpu in devices["gpus"]}
    assert len(devices["gpus"]) == 8 and len(devices["vfs"]) == 4
    for vf in devices["vfs"]:  # each VF reports its PF's NUMA node, one its GPUs share
        assert vf["numa_node"] == 0 and vf["numa_node"] in gpu_numa, vf

    # Each broken pod is broken in exactly one way.
    for name, code in BROKEN.items():
        problems = {
            finding["code"]
            for finding in rows[name].report["findings"]
            if finding["severity"] != "info"
        }
        assert problems == {code}, (name, problems)
    numa = rows["demo-numa-mismatch"]
    assert numa.phase == "Failed" and "rails 2, 3" in numa.report["findings"][0]["message"]

    faults = lab.faults()
    assert faults["topology_policy"] == []  # switched off once the NUMA pod was refused
    assert faults["exhaust_range"] == [{"range": "10.52.0.0/16"}]  # left on, as documented
    assert lab_cluster.rollouts.get().state == "succeeded"
    lab_cluster.refresh_from_db()
    assert lab_cluster.drift_checked_at is not None and not lab_cluster.drifted
    assert demo.populate(lab_cluster, seed_plan, faults=lab) == []  # again: creates nothing


def test_without_the_labs_fault_switch_only_pods_needing_no_fault_are_made(
    lab, lab_cluster, seed_plan
):
    created = demo.populate(lab_cluster, seed_plan)
    assert created == [
        "training-worker-0", "demo-nad-typo", "demo-no-ipc-lock", "demo-unregistered-vf",
    ]  # fmt: skip
    assert lab.faults()["exhaust_range"] == []
