import pytest

from clusters import demo
from clusters.models import PodStatus

pytestmark = pytest.mark.django_db


def test_the_demo_lab_shows_the_seed_pod_and_the_failure_table(lab, lab_cluster, seed_plan):
    lab_cluster.is_lab = True
    lab_cluster.save()
    created = demo.populate(lab_cluster, seed_plan)
    assert "training-worker-0" in created and len(created) == 6
    rows = {row.name: row for row in PodStatus.objects.filter(cluster=lab_cluster)}
    assert rows["training-worker-0"].ok, rows["training-worker-0"].codes
    expected = {
        "demo-nad-typo": "NAD_NOT_FOUND",
        "demo-no-ipc-lock": "IPC_LOCK_MISSING",
        "demo-unregistered-vf": "RESOURCE_NOT_ADVERTISED",
        "demo-range-exhausted": "RANGE_EXHAUSTED",
        "demo-numa-mismatch": "NUMA_SPLIT",
    }
    for name, code in expected.items():
        assert code in rows[name].codes.split(), (name, rows[name].codes)
    assert lab_cluster.rollouts.get().state == "succeeded"
    lab_cluster.refresh_from_db()
    assert lab_cluster.drift_checked_at is not None and not lab_cluster.drifted
    assert demo.populate(lab_cluster, seed_plan) == []  # running it again creates nothing
