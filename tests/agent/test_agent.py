"""The node agent against a real gRPC PodResources server on a unix socket and a sysfs tree the
test builds."""

import io
import json
import signal
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from agent import cli, podresources, sysfs
from agent.podresources_v1 import api_pb2, api_pb2_grpc
from tests.agent.sysfs_tree import netdev, pci_device, vf
from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]


class Lister(api_pb2_grpc.PodResourcesListerServicer):
    def __init__(self, response=None, error=None):
        self.response = response
        self.error = error
        self.calls = 0

    def List(self, request, context):
        self.calls += 1
        if self.error:
            context.abort(*self.error)
        return self.response


def _device(resource, ids, numa):
    return api_pb2.ContainerDevices(
        resource_name=resource,
        device_ids=ids,
        topology=api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=n) for n in numa]),
    )


def _response():
    trainer = api_pb2.ContainerResources(
        name="trainer",
        devices=[
            _device("nvidia.com/gpu", ["GPU-aaa", "GPU-bbb"], [0]),
            _device("nvidia.com/rail0_vf", ["0000:18:00.2"], [1]),
        ],
        cpu_ids=[4, 5],
    )
    return api_pb2.ListPodResourcesResponse(
        pod_resources=[
            api_pb2.PodResources(
                name="training-worker-0", namespace="ai-training", containers=[trainer]
            ),
            api_pb2.PodResources(name="coredns-1", namespace="kube-system", containers=[]),
        ]
    )


@pytest.fixture
def kubelet_socket(tmp_path):
    """A PodResources server on a unix socket, as the kubelet serves it."""
    servers = []

    def start(servicer):
        path = tmp_path / "pod-resources" / "kubelet.sock"
        path.parent.mkdir(exist_ok=True)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(servicer, server)
        server.add_insecure_port(f"unix://{path}")
        server.start()
        servers.append(server)
        return path

    yield start
    for server in servers:
        server.stop(None)


@pytest.fixture
def sys_root(tmp_path):
    """A pod's sysfs: eth0 (veth), net1 a VF of PF 0000:18:00.0 on NUMA 1 with mlx5_10, net2 a
    VF whose link is down (no speed, no carrier)."""
    root = tmp_path / "sys"
    netdev(root, "lo", None, address="00:00:00:00:00:00", mtu=65536, operstate="unknown")
    netdev(
        root,
        "eth0",
        None,
        address="0a:58:0a:64:00:05",
        mtu=1450,
        operstate="up",
        carrier=1,
        speed=10000,
    )
    vf(root, "0000:18:00.0", "0000:18:00.2", 0, numa=1, rdma="mlx5_10")
    netdev(
        root,
        "net1",
        "0000:18:00.2",
        address="02:00:00:00:00:10",
        mtu=9000,
        operstate="up",
        carrier=1,
        speed=400000,
    )
    vf(root, "0000:29:00.0", "0000:29:00.3", 1, numa=0, rdma="mlx5_19")
    netdev(
        root,
        "net2",
        "0000:29:00.3",
        address="02:00:00:01:00:11",
        mtu=9000,
        operstate="down",
        carrier=0,
        speed=-1,
    )
    return root


def test_sysfs_reads_vfs_pfs_numa_link_and_rdma(sys_root):
    netdevs = {n["name"]: n for n in sysfs.read_netdevs(str(sys_root))}
    assert set(netdevs) == {"eth0", "net1", "net2"}  # loopback left out
    assert netdevs["eth0"]["kind"] == "other" and netdevs["eth0"]["pci"] is None
    net1 = netdevs["net1"]
    assert net1 == {
        "name": "net1", "mac": "02:00:00:00:00:10", "mtu": 9000, "operstate": "up",
        "carrier": True, "speed_mbps": 400000, "pci": "0000:18:00.2", "kind": "vf",
        "numa_node": 1, "pf_pci": "0000:18:00.0", "vf_index": 0, "rdma_devices": ["mlx5_10"],
        "sriov_numvfs": None, "sriov_totalvfs": None,
    }  # fmt: skip
    net2 = netdevs["net2"]
    assert (net2["operstate"], net2["carrier"], net2["speed_mbps"]) == ("down", False, None)
    assert (net2["vf_index"], net2["pf_pci"], net2["numa_node"]) == (1, "0000:29:00.0", 0)


def test_sysfs_reads_a_pf_and_tolerates_unreadable_attributes(tmp_path):
    root = tmp_path / "sys"
    pci_device(root, "0000:5d:00.0", -1, sriov_totalvfs=16, sriov_numvfs=4)
    netdev(root, "enp93s0np0", "0000:5d:00.0", mtu="garbage", operstate="up")
    (pf,) = sysfs.read_netdevs(str(root))
    assert pf["kind"] == "pf" and (pf["sriov_totalvfs"], pf["sriov_numvfs"]) == (16, 4)
    assert pf["numa_node"] is None  # -1: the platform reports no NUMA node
    assert pf["mtu"] is None and pf["speed_mbps"] is None and pf["carrier"] is None
    assert sysfs.read_netdevs(str(tmp_path / "nowhere")) == []


def test_agent_lists_pod_resources_over_the_socket(kubelet_socket, sys_root):
    lister = Lister(_response())
    socket = kubelet_socket(lister)
    out = io.StringIO()
    code = cli.main(
        ["--sys", str(sys_root), "--pod-resources", str(socket)],
        environ={"NODE_NAME": "gpu-node-2"},
        stdout=out,
    )
    document = json.loads(out.getvalue())
    assert code == 0 and lister.calls == 1
    assert document["agent"] == "railstudio-agent" and document["version"] == 1
    assert document["node"] == "gpu-node-2"
    assert document["pod_resources"]["error"] is None
    pods = document["pod_resources"]["pods"]
    assert [(p["namespace"], p["name"]) for p in pods] == [
        ("ai-training", "training-worker-0"),
        ("kube-system", "coredns-1"),
    ]
    devices = pods[0]["containers"][0]["devices"]
    assert devices == [
        {"resource": "nvidia.com/gpu", "ids": ["GPU-aaa", "GPU-bbb"], "numa_nodes": [0]},
        {"resource": "nvidia.com/rail0_vf", "ids": ["0000:18:00.2"], "numa_nodes": [1]},
    ]
    assert pods[0]["containers"][0]["cpu_ids"] == [4, 5]
    assert [n["name"] for n in document["netdevs"]] == ["eth0", "net1", "net2"]


def test_agent_reports_pod_resources_errors_and_keeps_sysfs(kubelet_socket, sys_root, tmp_path):
    socket = kubelet_socket(Lister(error=(grpc.StatusCode.PERMISSION_DENIED, "not allowed")))
    out = io.StringIO()
    assert (
        cli.main(["--sys", str(sys_root), "--pod-resources", str(socket)], environ={}, stdout=out)
        == 0
    )
    document = json.loads(out.getvalue())
    assert document["pod_resources"] == {
        "pods": [],
        "error": "PodResources List failed: PERMISSION_DENIED: not allowed",
    }
    assert document["node"] is None and len(document["netdevs"]) == 3
    with pytest.raises(podresources.PodResourcesError, match="no PodResources socket at"):
        podresources.list_pods(str(tmp_path / "missing.sock"))


def test_agent_entry_point_runs_as_a_program(kubelet_socket, sys_root):
    """`python -m agent`, as the probe pod's container runs it."""
    socket = kubelet_socket(Lister(_response()))
    done = subprocess.run(
        [sys.executable, "-m", "agent", "--sys", str(sys_root), "--pod-resources", str(socket), "--node", "n1"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["node"] == "n1" and len(document["pod_resources"]["pods"]) == 2
    bad = subprocess.run(
        [sys.executable, "-m", "agent", "--timeout", "soon"], cwd=REPO, capture_output=True, text=True, timeout=60
    )  # fmt: skip
    assert bad.returncode == 2 and "--timeout" in bad.stderr


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has installed its SIGTERM handler (a slow start under load would
    otherwise take the signal's default action)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(
        next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16
    )
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def test_idle_mode_waits_for_sigterm_and_exits_cleanly():
    """The agent container's main process: it idles until the kubelet stops the pod."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "--idle"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: _catches_sigterm(process.pid), timeout=30, interval=0.05)
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(0.5)
        process.terminate()
        assert process.wait(10) == 0
        assert process.stdout.read() == ""
    finally:
        process.kill()
        process.stdout.close()
