"""What the simulated components do: scheduling, Multus/SR-IOV/whereabouts, their failures."""

import json

import pytest
from kubernetes import client

from tests.labsim.lab_helpers import (
    NAMESPACE,
    create_nads,
    events_for,
    nad_body,
    pod_body,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)
SANDBOX_PREFIX = "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "


def _pod(core, name):
    return core.read_namespaced_pod(name, NAMESPACE)


def _reasons(core, name):
    return [(e.type, e.reason, e.message) for e in events_for(core, name)]


def _wait_event(core, name, reason):
    return wait_until(lambda: next((e for e in events_for(core, name) if e.reason == reason), None))


def test_system_components_run_on_every_node(lab):
    apps = client.AppsV1Api(lab.api_client())
    core = client.CoreV1Api(lab.api_client())
    daemonsets = {d.metadata.name: d for d in apps.list_namespaced_daemon_set("kube-system").items}
    assert set(daemonsets) == {
        "kube-multus-ds",
        "sriov-device-plugin",
        "whereabouts",
        "calico-node",
    }
    multus = daemonsets["kube-multus-ds"]
    assert multus.status.desired_number_scheduled == multus.status.number_ready == 4
    selector = ",".join(f"{k}={v}" for k, v in multus.spec.selector.match_labels.items())
    pods = core.list_namespaced_pod("kube-system", label_selector=selector).items
    assert sorted(p.spec.node_name for p in pods) == [f"gpu-node-{i}" for i in range(4)]
    assert {p.status.phase for p in pods} == {"Running"}
    assert pods[0].metadata.owner_references[0].kind == "DaemonSet"


def test_nodes_report_gpus_and_one_vf_resource_per_rail(lab):
    nodes = client.CoreV1Api(lab.api_client()).list_node().items
    assert len(nodes) == 4
    for node in nodes:
        assert node.status.capacity["nvidia.com/gpu"] == "8"
        for rail in range(8):
            assert node.status.allocatable[f"nvidia.com/rail{rail}_vf"] == "8"
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert (ready.status, ready.reason) == ("True", "KubeletReady")


def test_network_status_annotation_is_written_as_multus_writes_it(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    pod = lab.wait_for_pod(NAMESPACE, "worker-0")
    raw = pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
    assert raw.startswith('[{\n    "name": "k8s-pod-network",\n    "ips": [\n        "10.100.')
    assert "\n},{\n" in raw
    statuses = json.loads(raw)
    assert statuses[0] == {
        "name": "k8s-pod-network",
        "ips": [pod["status"]["podIP"]],
        "default": True,
        "dns": {},
    }
    devices = lab.pod_devices(NAMESPACE, "worker-0")
    for rail, entry in enumerate(statuses[1:]):
        vf = next(v for v in devices["vfs"] if v["rail"] == rail)
        assert entry == {
            "name": f"{NAMESPACE}/sriov-rail-{rail}",
            "interface": f"net{rail + 1}",
            "ips": [f"10.5{rail}.1.0"],
            "mac": entry["mac"],
            "dns": {},
            "device-info": {
                "type": "pci",
                "version": "1.1.0",
                "pci": {
                    "pci-address": vf["pci"],
                    "rdma-device": vf["rdma_device"],
                    "pf-pci-address": vf["pf_pci"],
                },
            },
        }
    reasons = _reasons(core, "worker-0")
    added = [m for _, r, m in reasons if r == "AddedInterface"]
    assert added[0].startswith("Add eth0 [10.100.") and added[0].endswith(
        "/32] from k8s-pod-network"
    )
    assert added[1] == f"Add net1 [10.50.1.0/16] from {NAMESPACE}/sriov-rail-0"
    assert [r for _, r, _ in reasons][0] == "Scheduled"
    assert [r for _, r, _ in reasons][-3:] == ["Pulled", "Created", "Started"]
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Ready"] == conditions["PodScheduled"] == "True"


def test_unregistered_vf_resource_fails_scheduling_until_it_returns(lab, core, custom):
    create_nads(custom)
    lab.set_fault(unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": "all"})
    node = core.read_node("gpu-node-0")
    assert node.status.allocatable["nvidia.com/rail3_vf"] == "0"
    assert node.status.capacity["nvidia.com/rail3_vf"] == "0"
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    event = _wait_event(core, "worker-0", "FailedScheduling")
    assert (event.type, event.message) == (
        "Warning",
        "0/4 nodes are available: 4 Insufficient nvidia.com/rail3_vf.",
    )
    pod = _pod(core, "worker-0")
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (pod.status.phase, scheduled.status, scheduled.reason) == (
        "Pending",
        "False",
        "Unschedulable",
    )
    lab.clear_faults()
    lab.wait_for_pod(NAMESPACE, "worker-0")


def test_resource_unregistered_on_some_nodes(lab, core, custom):
    create_nads(custom)
    lab.set_fault(
        unregister_resource={
            "resource": "nvidia.com/rail0_vf",
            "nodes": ["gpu-node-0", "gpu-node-1", "gpu-node-2"],
        }
    )
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    assert lab.wait_for_pod(NAMESPACE, "worker-0")["spec"]["nodeName"] == "gpu-node-3"


def test_full_cluster_fails_scheduling_and_deleting_a_pod_frees_its_devices(lab, core, custom):
    create_nads(custom)
    for index in range(4):
        core.create_namespaced_pod(NAMESPACE, pod_body(f"worker-{index}"))
    for index in range(4):
        lab.wait_for_pod(NAMESPACE, f"worker-{index}")
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-4"))
    event = _wait_event(core, "worker-4", "FailedScheduling")
    assert event.message == "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
    freed = lab.pod_devices(NAMESPACE, "worker-1")
    core.delete_namespaced_pod("worker-1", NAMESPACE)
    pod = lab.wait_for_pod(NAMESPACE, "worker-4")
    assert pod["spec"]["nodeName"] == freed["node"]
    taken = lab.pod_devices(NAMESPACE, "worker-4")
    assert [v["pci"] for v in taken["vfs"]] == [v["pci"] for v in freed["vfs"]]


def test_deleting_a_pod_frees_its_whereabouts_addresses(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    lab.wait_for_pod(NAMESPACE, "worker-0")
    pools = client.CustomObjectsApi(lab.api_client())
    pool = pools.get_namespaced_custom_object(
        "whereabouts.cni.cncf.io", "v1alpha1", "kube-system", "ippools", "10.50.0.0-16"
    )
    assert pool["spec"]["range"] == "10.50.0.0/16"
    allocation = pool["spec"]["allocations"]["256"]  # 10.50.1.0, after the excluded /24
    assert allocation["podref"] == f"{NAMESPACE}/worker-0" and allocation["ifname"] == "net1"
    deleted = core.delete_namespaced_pod("worker-0", NAMESPACE)
    assert deleted.metadata.deletion_timestamp is not None
    wait_until(lambda: not core.list_namespaced_pod(NAMESPACE).items)
    pool = pools.get_namespaced_custom_object(
        "whereabouts.cni.cncf.io", "v1alpha1", "kube-system", "ippools", "10.50.0.0-16"
    )
    assert pool["spec"]["allocations"] == {}
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-1"))
    pod = lab.wait_for_pod(NAMESPACE, "worker-1")
    assert '"10.50.1.0"' in pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]


def test_missing_nad_gives_no_network_found_until_it_is_created(lab, core, custom):
    create_nads(custom, rails=range(3))
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0"))
    sandbox = _wait_event(core, "worker-0", "FailedCreatePodSandBox")
    missing = next(e for e in events_for(core, "worker-0") if e.reason == "NoNetworkFound")
    assert (missing.type, missing.message) == (
        "Warning",
        f"cannot find a network-attachment-definition (sriov-rail-3) in namespace ({NAMESPACE}):"
        ' network-attachment-definitions.k8s.cni.cncf.io "sriov-rail-3" not found',
    )
    pod = _pod(core, "worker-0")
    assert sandbox.message.startswith(SANDBOX_PREFIX + 'network for sandbox "')
    assert sandbox.message.endswith(
        f'plugin type="multus" name="multus-cni-network" failed (add): Multus: '
        f"[{NAMESPACE}/worker-0/{pod.metadata.uid}]: error loading k8s delegates k8s args: "
        "TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed "
        "getting the delegate: getKubernetesDelegate: " + missing.message
    )
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    assert "AddedInterface" not in [e.reason for e in events_for(core, "worker-0")]
    create_nads(custom, rails=[3])
    lab.wait_for_pod(NAMESPACE, "worker-0")


def test_nad_with_resource_name_needs_an_allocated_vf(lab, core, custom):
    create_nads(custom, rails=[0])
    core.create_namespaced_pod(
        NAMESPACE, pod_body("worker-0", rails=[], gpus=1, networks="sriov-rail-0")
    )
    event = _wait_event(core, "worker-0", "FailedCreatePodSandBox")
    uid = _pod(core, "worker-0").metadata.uid
    assert event.message.endswith(
        f"failed (add): [{NAMESPACE}/worker-0/{uid}:sriov-rail-0]: error adding container to "
        'network "sriov-rail-0": SRIOV-CNI failed to load netconf: LoadConf(): VF pci addr is '
        "required"
    )
    added = [e.message for e in events_for(core, "worker-0") if e.reason == "AddedInterface"]
    assert len(added) == 1 and added[0].startswith("Add eth0 ")


def test_exhausted_whereabouts_range(lab, core, custom):
    ipam = {"type": "whereabouts", "range": "10.60.0.0/30"}
    custom.create_namespaced_custom_object(
        "k8s.cni.cncf.io",
        "v1",
        NAMESPACE,
        "network-attachment-definitions",
        nad_body(0, "tiny", ipam=ipam),
    )
    for index in range(3):
        core.create_namespaced_pod(
            NAMESPACE, pod_body(f"worker-{index}", rails=[0], gpus=0, networks="tiny")
        )
    lab.wait_for_pod(NAMESPACE, "worker-0")
    lab.wait_for_pod(NAMESPACE, "worker-1")
    event = _wait_event(core, "worker-2", "FailedCreatePodSandBox")
    assert event.message.endswith(
        'error adding container to network "tiny": failed to set up IPAM plugin type '
        '"whereabouts" from the device "enp24s0np0": error at storage engine: Could not '
        "allocate IP in range: ip: 10.60.0.1 / - 10.60.0.2 / range: 10.60.0.0/30 / "
        "excludeRanges: []"
    )
    assert _pod(core, "worker-2").status.phase == "Pending"
    core.delete_namespaced_pod("worker-0", NAMESPACE, grace_period_seconds=0)
    lab.wait_for_pod(NAMESPACE, "worker-2")


def test_exhaust_range_fault_prefills_the_ippool(lab, core, custom):
    create_nads(custom, rails=[0])
    lab.set_fault(exhaust_range={"range": "10.50.0.0/16"})
    core.create_namespaced_pod(NAMESPACE, pod_body("worker-0", rails=[0], gpus=1))
    event = _wait_event(core, "worker-0", "FailedCreatePodSandBox")
    assert event.message.endswith(
        "Could not allocate IP in range: ip: 10.50.0.1 / - 10.50.255.254 / range: 10.50.0.0/16 "
        "/ excludeRanges: [10.50.0.0/24]"
    )
    lab.clear_faults("exhaust_range")
    lab.wait_for_pod(NAMESPACE, "worker-0")


def test_numa_mismatch_places_vfs_on_the_other_numa_node(lab, core, custom):
    create_nads(custom)
    core.create_namespaced_pod(NAMESPACE, pod_body("aligned"))
    lab.wait_for_pod(NAMESPACE, "aligned")
    lab.set_fault(numa_mismatch=True)
    core.create_namespaced_pod(NAMESPACE, pod_body("crossed"))
    lab.wait_for_pod(NAMESPACE, "crossed")
    aligned, crossed = lab.pod_devices(NAMESPACE, "aligned"), lab.pod_devices(NAMESPACE, "crossed")
    gpu_numa = {g["index"]: g["numa_node"] for g in crossed["gpus"]}
    for vf in aligned["vfs"]:
        assert vf["numa_node"] == gpu_numa[vf["rail"]]
    for vf in crossed["vfs"]:
        assert vf["numa_node"] != gpu_numa[vf["rail"]]


def test_topology_manager_refuses_pods_it_cannot_align_and_aligns_the_rest(lab, core, custom):
    """With single-numa-node, a pod's GPUs and VFs come from one NUMA node or the kubelet
    refuses it at admission (TopologyAffinityError), as a real kubelet does."""
    create_nads(custom, rails=range(8))
    lab.set_fault(topology_policy={"policy": "single-numa-node", "nodes": "all"})
    core.create_namespaced_pod(NAMESPACE, pod_body("split", rails=[2, 3, 4, 5], gpus=4))
    pod = lab.wait_for_pod(NAMESPACE, "split", phase="Failed")
    assert (pod["status"]["reason"], pod["status"]["message"]) == (
        "TopologyAffinityError",
        "Pod was rejected: Resources cannot be allocated with Topology locality",
    )
    event = _wait_event(core, "split", "TopologyAffinityError")
    assert (event.type, event.message) == (
        "Warning",
        "Resources cannot be allocated with Topology locality",
    )
    core.create_namespaced_pod(NAMESPACE, pod_body("socket-1", rails=[4, 5, 6, 7], gpus=4))
    lab.wait_for_pod(NAMESPACE, "socket-1")
    devices = lab.pod_devices(NAMESPACE, "socket-1")
    assert {gpu["numa_node"] for gpu in devices["gpus"]} == {1}  # the GPUs of the VFs' socket
    assert {vf["numa_node"] for vf in devices["vfs"]} == {1}
    assert lab.clear_faults("topology_policy")["topology_policy"] == []
    core.create_namespaced_pod(NAMESPACE, pod_body("split-again", rails=[2, 3, 4, 5], gpus=4))
    lab.wait_for_pod(NAMESPACE, "split-again")  # without Topology Manager it runs


def test_api_latency_fault(lab, core):
    import time

    lab.set_fault(latency_ms=300)
    started = time.monotonic()
    core.list_node()
    assert time.monotonic() - started >= 0.3
    assert lab.faults()["latency_ms"] == 300  # the admin endpoint is not slowed down
    lab.clear_faults("latency_ms")


def test_api_unavailable_503_then_recovers(lab, core):
    lab.set_fault(unavailable={"seconds": 2, "mode": "503"})
    with pytest.raises(client.ApiException) as raised:
        core.list_node()
    assert raised.value.status == 503
    assert json.loads(raised.value.body)["reason"] == "ServiceUnavailable"
    assert lab.faults()["unavailable"]["mode"] == "503"
    wait_until(lambda: lab.request("GET", "/api/v1/nodes")[0] == 200, timeout=8)


def test_api_unavailable_refuses_connections_then_reopens_the_same_port(lab):
    import socket

    host, port = lab.url.removeprefix("https://").rsplit(":", 1)
    lab.set_fault(unavailable={"seconds": 2, "mode": "refuse"})
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=1).close()

    def reachable():
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(reachable, timeout=8)
    assert client.CoreV1Api(lab.api_client()).list_node().items


def test_spec_faults_and_bad_fault_documents(tmp_path):
    import yaml

    from labsim.spec import build_spec
    from labsim.testing import SEED_SPEC, running_lab

    raw = yaml.safe_load(SEED_SPEC.read_text())
    raw["faults"] = {"unregister_resource": [{"resource": "nvidia.com/gpu", "nodes": "all"}]}
    build_spec(raw)
    with running_lab(raw, tmp_path) as lab:
        node = client.CoreV1Api(lab.api_client()).read_node("gpu-node-1")
        assert node.status.allocatable["nvidia.com/gpu"] == "0"
        status, body = lab.request("POST", "/labsim/admin/faults", {"latency": 1})
        assert status == 400 and "unknown faults" in body["error"]
        status, _ = lab.request(
            "POST",
            "/labsim/admin/faults",
            {"unregister_resource": {"resource": "x", "nodes": ["nope"]}},
        )
        assert status == 400


def test_cluster_without_multus_and_with_flannel(tmp_path):
    from labsim.testing import running_lab

    spec = {"nodes": 1, "namespaces": [NAMESPACE], "components": {"multus": False}}
    with running_lab(spec, tmp_path / "plain") as lab:
        status, _ = lab.request("GET", "/apis/k8s.cni.cncf.io/v1")
        assert status == 404
        core = client.CoreV1Api(lab.api_client())
        core.create_namespaced_pod(NAMESPACE, pod_body("worker-0", rails=[0], gpus=1))
        pod = lab.wait_for_pod(NAMESPACE, "worker-0")
        assert "k8s.v1.cni.cncf.io/network-status" not in pod["metadata"].get("annotations", {})
        assert "AddedInterface" not in [e.reason for e in events_for(core, "worker-0")]
    spec = {"nodes": 1, "namespaces": [NAMESPACE], "default_network": {"plugin": "flannel"}}
    with running_lab(spec, tmp_path / "flannel") as lab:
        core = client.CoreV1Api(lab.api_client())
        core.create_namespaced_pod(NAMESPACE, pod_body("worker-0", rails=[], networks=""))
        pod = lab.wait_for_pod(NAMESPACE, "worker-0")
        (default,) = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
        assert default["name"] == "cbr0" and default["interface"] == "eth0"
        assert default["gateway"] == ["10.100.0.1"] and default["default"] is True


def test_the_failures_spec_starts_broken(tmp_path):
    from labsim.testing import SEED_SPEC, running_lab

    with running_lab(SEED_SPEC.with_name("seed-failures.yaml"), tmp_path) as lab:
        core = client.CoreV1Api(lab.api_client())
        nodes = {n.metadata.name: n.status.allocatable for n in core.list_node().items}
        assert nodes["gpu-node-3"]["nvidia.com/rail3_vf"] == "0"
        assert nodes["gpu-node-2"]["nvidia.com/rail5_vf"] == "0"
        assert nodes["gpu-node-0"]["nvidia.com/rail5_vf"] == "8"
        pool = client.CustomObjectsApi(lab.api_client()).get_namespaced_custom_object(
            "whereabouts.cni.cncf.io", "v1alpha1", "kube-system", "ippools", "10.57.0.0-16"
        )
        assert len(pool["spec"]["allocations"]) == 65534
        assert lab.faults()["exhaust_range"] == [{"range": "10.57.0.0/16"}]


def test_the_faults_command_sets_shows_and_clears_a_running_labs_faults(lab):
    import subprocess
    import sys

    def faults(*args: str) -> dict:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "labsim",
                "faults",
                "--kubeconfig",
                str(lab.kubeconfig_path),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert faults("--set", '{"exhaust_range": {"range": "10.52.0.0/16"}}')["exhaust_range"] == [
        {"range": "10.52.0.0/16"}
    ]
    assert lab.faults()["exhaust_range"] == [{"range": "10.52.0.0/16"}]
    assert faults()["exhaust_range"] == [{"range": "10.52.0.0/16"}]
    assert faults("--clear", "exhaust_range")["exhaust_range"] == []
