"""Rail validation against the lab with a real Celery worker: a healthy seed lab validates
green in each mode, each fault gives its finding on the right node and rail and nothing else,
probes that cannot start are diagnosed, and the probe is gone afterwards."""

import pytest

from clusters.kube import Kube, Target
from clusters.models import Validation
from clusters.validation import probe
from planner import manifests
from tests.helpers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]
NAMESPACE = "ai-training"


def _kube(lab) -> Kube:
    return Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))


@pytest.fixture
def rails_ready(lab, lab_cluster, seed_plan):
    """The seed plan's NADs in the lab (as a rollout leaves them)."""
    kube = _kube(lab)
    kube.ensure_namespace(NAMESPACE)
    for obj in manifests.render_nads(seed_plan.to_spec()):
        kube.apply(obj)
    return lab_cluster


def _start(api, cluster, plan, **body) -> int:
    response = api.post(
        f"/api/clusters/{cluster.pk}/validations/", {"plan": plan.slug, **body}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["state"] == "pending"
    return response.json()["id"]


def _finished(api, run_id: int, timeout: float = 90) -> dict:
    def done():
        body = api.get(f"/api/validations/{run_id}/").json()
        return body if body["state"] not in ("pending", "running") else None

    return wait_for(done, timeout=timeout, interval=0.2)


def _probe_gone(lab, run_id: int) -> None:
    kube = _kube(lab)
    selector = probe.selector_for(run_id)
    assert kube.get("apps/v1", "DaemonSet", probe.name_for(run_id), NAMESPACE) is None
    wait_for(lambda: not kube.pods(NAMESPACE, selector), timeout=10)


def _codes(body: dict) -> list[tuple]:
    return [(f["code"], f["rail"], f["node"]) for f in body["findings"]]


@pytest.mark.parametrize(
    "mode,rdma_per_rail,tests",
    [
        ("quick", 4, ["icmp", "rping", "ib_write_bw"]),
        ("full", 12, ["icmp", "rping", "ib_write_bw"]),
        ("strict", 12, ["icmp", "rping", "ib_write_bw", "mtu", "cross_rail"]),
    ],
)
def test_a_healthy_seed_lab_validates_green(
    operator_api,
    viewer_api,
    lab,
    rails_ready,
    seed_plan,
    celery_worker_thread,
    mode,
    rdma_per_rail,
    tests,
):
    run_id = _start(operator_api, rails_ready, seed_plan, mode=mode)
    body = _finished(viewer_api, run_id)
    assert (body["state"], body["passed"], body["findings"]) == ("succeeded", True, [])
    assert body["nodes"] == [f"gpu-node-{i}" for i in range(4)]
    assert len(body["rails"]) == 8
    for rail in body["rails"]:
        assert rail["tests"] == tests and rail["nad"] == f"sriov-rail-{rail['rail']}"
        assert rail["status"] == ["-ooo", "o-oo", "oo-o", "ooo-"]
        assert all(0 < rtt < 100 for row in rail["rtt_us"] for rtt in row if rtt is not None)
        assert len(rail["rdma"]) == rdma_per_rail
        assert all(390 < test["gbps"] < 395 and test["rping"] for test in rail["rdma"])
        assert rail["line_rate_gbps"] == 400
        if mode == "strict":
            assert rail["mtu"]["size"] == 8972 and rail["mtu"]["status"] == rail["status"]
            assert len(rail["cross"]) == 4 and not any(c["reached"] for c in rail["cross"])
    assert body["summary"]["execs"] == 4 * (3 if mode == "quick" else 2 + 2 * 3 - 1)
    assert body["facts"]["gpu-node-1"]["3"]["vf_numa"] == 0
    _probe_gone(lab, run_id)


FAULTS = [
    (
        "quick",
        {"link_down": {"node": "gpu-node-2", "rail": 1}},
        [("RAIL_LINK_DOWN", 1, "gpu-node-2")],
    ),
    (
        "quick",
        {"dscp_untrusted": {"node": "gpu-node-3"}},
        [("RDMA_BLOCKED", None, "gpu-node-3")],
    ),
    (
        "strict",
        {"mtu": {"node": "gpu-node-0", "rail": 4, "mtu": 1500}},
        [("MTU_MISMATCH", 4, "gpu-node-0")],
    ),
    (
        "quick",
        {"half_speed": {"node": "gpu-node-1", "rail": 6}},
        [("RDMA_LOW_BANDWIDTH", 6, "gpu-node-1")],
    ),
    (
        "quick",
        {"numa_mismatch": True},
        [("RDMA_LOW_BANDWIDTH", None, f"gpu-node-{i}") for i in range(4)],
    ),
]


@pytest.mark.parametrize("mode,faults,expected", FAULTS, ids=[next(iter(f[1])) for f in FAULTS])
def test_each_fault_gives_its_finding_and_nothing_else(
    operator_api, lab, rails_ready, seed_plan, celery_worker_thread, mode, faults, expected
):
    lab.set_faults(faults)
    run_id = _start(operator_api, rails_ready, seed_plan, mode=mode)
    body = _finished(operator_api, run_id)
    assert body["state"] == "succeeded" and body["passed"] is False
    assert _codes(body) == expected
    found = body["findings"][0]
    assert found["message"] and found["fix"]
    if "dscp_untrusted" in faults:
        assert "trusts PCP" in found["message"] and "Priority trust state: pcp" in found["evidence"]
        assert "--trust dscp" in found["fix"]
    if "numa_mismatch" in faults:
        assert "another NUMA node" in found["message"] and "half" in found["message"]
    if "half_speed" in faults:
        assert "negotiated 200 Gb/s" in found["message"]
    if "link_down" in faults:
        assert "link is down" in found["message"]
        rail = next(r for r in body["rails"] if r["rail"] == 1)
        assert rail["status"][2] == "uu-u"
    _probe_gone(lab, run_id)


def test_probes_that_cannot_start_are_diagnosed_and_the_rest_is_tested(
    operator_api, lab, rails_ready, seed_plan, celery_worker_thread, settings
):
    settings.VALIDATION_READY_SECONDS = 3
    kube = _kube(lab)
    hog = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gpu-hog", "namespace": NAMESPACE},
        "spec": {"nodeName": "gpu-node-2", "containers": [
            {"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]},
    }  # fmt: skip
    kube.create_pod(hog)
    lab.wait_for_pod(NAMESPACE, "gpu-hog")
    run_id = _start(operator_api, rails_ready, seed_plan, mode="quick")
    body = _finished(operator_api, run_id)
    assert body["state"] == "succeeded"
    assert _codes(body) == [("PROBE_NOT_READY", None, "gpu-node-2")]
    assert "Insufficient nvidia.com/gpu" in body["findings"][0]["evidence"]
    assert body["nodes"] == ["gpu-node-0", "gpu-node-1", "gpu-node-3"]
    assert all(r["status"] == ["-oo", "o-o", "oo-"] for r in body["rails"])
    _probe_gone(lab, run_id)


def test_keep_probe_leaves_the_daemonset_and_nodes_limit_the_run(
    operator_api, lab, rails_ready, seed_plan, celery_worker_thread
):
    run_id = _start(
        operator_api, rails_ready, seed_plan, nodes=["gpu-node-1", "gpu-node-3"], keep_probe=True
    )
    body = _finished(operator_api, run_id)
    assert body["nodes"] == ["gpu-node-1", "gpu-node-3"] and body["passed"] is True
    kube = _kube(lab)
    assert kube.get("apps/v1", "DaemonSet", probe.name_for(run_id), NAMESPACE) is not None
    pods = kube.pods(NAMESPACE, probe.selector_for(run_id))
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["gpu-node-1", "gpu-node-3"]


def test_cancel_stops_a_run_and_removes_the_probe(
    operator_api, lab, rails_ready, seed_plan, celery_worker_thread
):
    lab.set_fault(latency_ms=40)  # a slow API server: the run is still going when cancelled
    run_id = _start(operator_api, rails_ready, seed_plan, mode="full")
    wait_for(lambda: Validation.objects.get(pk=run_id).state == "running", timeout=30)
    response = operator_api.post(f"/api/validations/{run_id}/cancel/")
    assert response.status_code == 202
    body = _finished(operator_api, run_id)
    assert body["state"] == "cancelled" and body["findings"] == []
    lab.clear_faults()
    _probe_gone(lab, run_id)


def test_a_cluster_that_refuses_fails_the_run(
    operator_api, lab, rails_ready, seed_plan, celery_worker_thread
):
    rails_ready.set_kubeconfig(lab.kubeconfig_path.read_text().replace(lab.token, "wrong-token"))
    rails_ready.save()
    run_id = _start(operator_api, rails_ready, seed_plan)
    body = _finished(operator_api, run_id)
    assert body["state"] == "failed"
    assert body["message"].startswith("The cluster's API failed: 401 Unauthorized")
