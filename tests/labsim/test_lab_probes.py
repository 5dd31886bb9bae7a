"""The lab carries traffic: a DaemonSet controller places probe pods, and ping, ib_write_bw,
rping, mlnx_qos and the node agent answer from the fabric and its faults."""

import json
import re
import time

import pytest
from kubernetes import client

from labsim.testing import SEED_SPEC, running_lab, start_lab
from tests.labsim.lab_helpers import NAMESPACE
from tests.labsim.probe_helpers import (
    create_rail_nads,
    probe_daemonset,
    probe_pods,
    rails_of,
    run,
)

pytestmark = pytest.mark.timeout(120)
PING = ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "2"]


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    """One seed lab with the probe DaemonSet running on every node (faults cleared after
    each test)."""
    lab = start_lab(SEED_SPEC, tmp_path_factory.mktemp("probe-lab"))
    create_rail_nads(lab)
    client.AppsV1Api(lab.api_client()).create_namespaced_daemon_set(NAMESPACE, probe_daemonset())
    pods = probe_pods(lab)
    assert sorted(pods) == [f"gpu-node-{i}" for i in range(4)]
    yield lab, pods
    lab.stop()


@pytest.fixture
def probes(probed):
    lab, pods = probed
    yield lab, pods
    lab.clear_faults()


def _stats(output: str) -> dict[str, tuple[int, int, int]]:
    """{target: (transmitted, received, errors)} from ping -q summaries."""
    found = {}
    for match in re.finditer(
        r"--- (\S+) ping statistics ---\n(\d+) packets transmitted, (\d+) received"
        r"(?:, \+(\d+) errors)?",
        output,
    ):
        found[match.group(1)] = (int(match[2]), int(match[3]), int(match[4] or 0))
    return found


def _sweep(lab, pod, interface: str, targets: list[str], extra=()) -> dict:
    script = (
        f"for ip in {' '.join(targets)}; do {' '.join([*PING, *extra])} -I {interface} $ip & "
        "done; wait"
    )
    stdout, stderr, code = run(lab, pod.metadata.name, ["sh", "-c", script])
    assert code == 0
    return _stats(stdout)


# The DaemonSet controller -------------------------------------------------------------------


def test_daemonset_places_one_pod_per_admitted_node_and_cleans_up(lab):
    apps = client.AppsV1Api(lab.api_client())
    core = client.CoreV1Api(lab.api_client())
    create_rail_nads(lab)
    hog = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"}, "spec": {
        "nodeName": "gpu-node-2",
        "containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "8"}}}],
    }}  # fmt: skip
    core.create_namespaced_pod(NAMESPACE, hog)
    lab.wait_for_pod(NAMESPACE, "hog")
    ds = probe_daemonset(nodes=["gpu-node-1", "gpu-node-2", "gpu-node-3"])
    apps.create_namespaced_daemon_set(NAMESPACE, ds)
    running = probe_pods(lab, count=2)
    assert sorted(running) == ["gpu-node-1", "gpu-node-3"]
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=probe").items
    pending = [p for p in pods if p.status.phase == "Pending"]
    assert len(pods) == 3 and len(pending) == 1
    affinity = pending[
        0
    ].spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert affinity.node_selector_terms[0].match_fields[0].values == ["gpu-node-2"]
    assert pending[0].metadata.owner_references[0].kind == "DaemonSet"
    assert pending[0].metadata.labels["pod-template-generation"] == "1"
    condition = next(c for c in pending[0].status.conditions if c.type == "PodScheduled")
    assert condition.message == (
        "0/4 nodes are available: 1 Insufficient nvidia.com/gpu, "
        "3 node(s) didn't match Pod's node affinity/selector."
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = apps.read_namespaced_daemon_set("probe", NAMESPACE).status
        if status.number_ready == 2:
            break
        time.sleep(0.05)
    assert (status.desired_number_scheduled, status.current_number_scheduled) == (3, 3)
    assert (status.number_ready, status.number_unavailable) == (2, 1)
    events = core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.name=probe")
    assert sum(e.reason == "SuccessfulCreate" for e in events.items) == 3
    # A node whose label stops matching loses its pod.
    core.patch_node("gpu-node-3", {"metadata": {"labels": {"kubernetes.io/hostname": "elsewhere"}}})
    deadline = time.monotonic() + 5
    while True:
        items = core.list_namespaced_pod(NAMESPACE, label_selector="app=probe").items
        placed = sorted(_pinned(p) for p in items if not p.metadata.deletion_timestamp)
        if placed == ["gpu-node-1", "gpu-node-2"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert placed == ["gpu-node-1", "gpu-node-2"]
    apps.delete_namespaced_daemon_set("probe", NAMESPACE)
    deadline = time.monotonic() + 5
    while core.list_namespaced_pod(NAMESPACE, label_selector="app=probe").items:
        assert time.monotonic() < deadline, "the DaemonSet's pods were not deleted"
        time.sleep(0.05)


def _pinned(pod) -> str:
    affinity = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    return affinity.node_selector_terms[0].match_fields[0].values[0]


# ping ---------------------------------------------------------------------------------------


def test_ping_sweep_reaches_every_peer_on_the_rail_and_nothing_else(probes):
    lab, pods = probes
    source = pods["gpu-node-0"]
    peers = [rails_of(pods[f"gpu-node-{i}"])[2]["ip"] for i in (1, 2, 3)]
    other_rail = rails_of(pods["gpu-node-1"])[3]["ip"]
    stats = _sweep(lab, source, "net3", [*peers, other_rail, "10.52.200.9"])
    assert [stats[ip] for ip in peers] == [(3, 3, 0)] * 3
    assert stats[other_rail] == (3, 0, 3)  # rail-only fabric: ARP for it goes unanswered
    assert stats["10.52.200.9"] == (3, 0, 3)
    stdout, _, code = run(lab, source.metadata.name, [*PING, "-I", "net3", peers[0]])
    assert code == 0
    assert stdout.startswith(
        f"PING {peers[0]} ({peers[0]}) from {rails_of(source)[2]['ip']} net3: 56(84) bytes"
    )
    assert re.search(r"rtt min/avg/max/mdev = 0\.0\d\d/0\.0\d\d/0\.0\d\d/0\.00\d ms\n$", stdout)
    _, stderr, code = run(lab, source.metadata.name, ["ping", "-c", "1", "-I", "net9", peers[0]])
    assert (stderr, code) == ("ping: SO_BINDTODEVICE net9: No such device\n", 2)
    _, stderr, code = run(lab, source.metadata.name, ["ping", "-x", peers[0]])
    assert code == 2 and "invalid option -- 'x'" in stderr


def test_link_down_isolates_that_node_on_that_rail(probes):
    lab, pods = probes
    lab.set_fault(link_down={"node": "gpu-node-2", "rail": 1})
    down = pods["gpu-node-2"]
    others = [pods[f"gpu-node-{i}"] for i in (0, 1, 3)]
    from_down = _sweep(lab, down, "net2", [rails_of(p)[1]["ip"] for p in others])
    assert set(from_down.values()) == {(3, 0, 3)}  # Destination Host Unreachable
    to_down = _sweep(
        lab, others[0], "net2", [rails_of(down)[1]["ip"], rails_of(others[1])[1]["ip"]]
    )
    assert to_down[rails_of(down)[1]["ip"]][1] == 0
    assert to_down[rails_of(others[1])[1]["ip"]] == (3, 3, 0)
    still = _sweep(lab, down, "net1", [rails_of(others[0])[0]["ip"]])  # rail 0 is fine
    assert list(still.values()) == [(3, 3, 0)]


def test_mtu_faults_drop_big_frames_with_df_and_keep_small_ones(probes):
    lab, pods = probes
    lab.set_fault(mtu={"node": "gpu-node-3", "rail": 4, "mtu": 1500})
    target = rails_of(pods["gpu-node-3"])[4]["ip"]
    source = pods["gpu-node-0"]
    small = _sweep(lab, source, "net5", [target])
    big = _sweep(lab, source, "net5", [target], extra=["-M", "do", "-s", "8972"])
    assert small[target] == (3, 3, 0) and big[target] == (3, 0, 0)  # silently dropped
    # Larger than the sending interface's own MTU: a local error for each packet.
    stdout, stderr, code = run(
        lab, source.metadata.name, [*PING, "-M", "do", "-s", "9000", "-I", "net5", target]
    )
    assert code == 1 and stderr.count("ping: local error: message too long, mtu=9000") == 3
    assert "3 packets transmitted, 0 received, +3 errors, 100% packet loss" in stdout


def test_routed_fabric_reaches_other_rails(tmp_path):
    spec = {"nodes": 2, "namespaces": [NAMESPACE], "fabric": {"cross_rail": "routed"}}
    with running_lab(spec, tmp_path) as lab:
        create_rail_nads(lab)
        client.AppsV1Api(lab.api_client()).create_namespaced_daemon_set(
            NAMESPACE, probe_daemonset()
        )
        pods = probe_pods(lab, count=2)
        other = rails_of(pods["gpu-node-1"])[5]["ip"]
        stats = _sweep(lab, pods["gpu-node-0"], "net1", [other])
        assert stats[other] == (3, 3, 0)


# RDMA ---------------------------------------------------------------------------------------


def _bandwidth(lab, pods, server_node: str, client_node: str, rail: int, cuda: bool = True):
    server, client_pod = pods[server_node], pods[client_node]
    server_rail, client_rail = rails_of(server)[rail], rails_of(client_pod)[rail]
    port = 18515 + rail
    use_cuda = [f"--use_cuda={rail}"] if cuda else []
    common = ["-R", "-F", "--report_gbits", "-D", "2", "-p", str(port), *use_cuda]
    script = f"timeout 30 ib_write_bw -d {server_rail['rdma']} {' '.join(common)} >/dev/null 2>&1 &"
    assert run(lab, server.metadata.name, ["sh", "-c", script])[2] == 0
    return run(
        lab, client_pod.metadata.name,
        ["ib_write_bw", "-d", client_rail["rdma"], *common, server_rail["ip"]],
    )  # fmt: skip


def _gbps(stdout: str) -> float:
    match = re.search(r"^ 65536\s+\d+\s+[\d.]+\s+([\d.]+)", stdout, re.M)
    return float(match.group(1))


def test_ib_write_bw_runs_at_line_rate_and_half_speed_halves_it(probes):
    lab, pods = probes
    stdout, stderr, code = _bandwidth(lab, pods, "gpu-node-1", "gpu-node-0", 0)
    assert (stderr, code) == ("", 0)
    assert "RDMA_Write BW Test" in stdout and " BW average[Gb/sec]" in stdout
    assert 390 < _gbps(stdout) < 395
    assert "Picking device No. 0" in stdout  # GPUDirect: --use_cuda
    lab.set_fault(half_speed={"node": "gpu-node-1", "rail": 0})
    stdout, _, code = _bandwidth(lab, pods, "gpu-node-1", "gpu-node-0", 0)
    assert code == 0 and 194 < _gbps(stdout) < 198
    # Without a server on the peer, the client is rejected.
    rail = rails_of(pods["gpu-node-2"])[6]
    own = rails_of(pods["gpu-node-3"])[6]
    _, stderr, code = run(lab, pods["gpu-node-3"].metadata.name,
                          ["ib_write_bw", "-d", own["rdma"], "-R", "-p", "18600", rail["ip"]])  # fmt: skip
    assert code == 1 and "RDMA_CM_EVENT_REJECTED" in stderr


def test_dscp_untrusted_stalls_rdma_but_not_rping_and_mlnx_qos_says_why(probes):
    lab, pods = probes
    lab.set_fault(dscp_untrusted={"node": "gpu-node-3"})
    stdout, stderr, code = _bandwidth(lab, pods, "gpu-node-3", "gpu-node-2", 2)
    assert code == 1 and "Failed status 12: wr_id 0 syndrom 0x81" in stderr
    assert "RDMA_Write BW Test" in stdout and "BW average" not in stdout
    server, peer = pods["gpu-node-3"], pods["gpu-node-2"]
    ip = rails_of(server)[2]["ip"]
    script = f"timeout 30 rping -s -a {ip} -p 18700 -C 3 >/dev/null 2>&1 &"
    run(lab, server.metadata.name, ["sh", "-c", script])
    stdout, _, code = run(
        lab, peer.metadata.name, ["rping", "-c", "-a", ip, "-p", "18700", "-C", "3", "-v"]
    )
    assert code == 0
    assert stdout.splitlines() == [
        "ping data: rdma-ping-0: ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqr",
        "ping data: rdma-ping-1: BCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrs",
        "ping data: rdma-ping-2: CDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrst",
        "client DISCONNECT EVENT...",
    ]
    qos, _, _ = run(lab, server.metadata.name, ["mlnx_qos", "-i", "net3"])
    assert "Priority trust state: pcp" in qos
    assert "\tenabled     0   0   0   0   0   0   0   0" in qos
    healthy, _, _ = run(lab, peer.metadata.name, ["mlnx_qos", "-i", "net3"])
    assert "Priority trust state: dscp" in healthy and "prio:3 dscp:31,30," in healthy


def test_port_mtu_below_the_roce_frame_stalls_rdma(probes):
    lab, pods = probes
    lab.set_fault(mtu={"node": "gpu-node-0", "rail": 7, "mtu": 1500})
    _, stderr, code = _bandwidth(lab, pods, "gpu-node-0", "gpu-node-1", 7)
    assert code == 1 and "Failed status 12" in stderr


def test_numa_mismatch_halves_gpudirect_bandwidth(lab):
    lab.set_fault(numa_mismatch=True)
    create_rail_nads(lab)
    client.AppsV1Api(lab.api_client()).create_namespaced_daemon_set(
        NAMESPACE, probe_daemonset(nodes=["gpu-node-0", "gpu-node-1"])
    )
    pods = probe_pods(lab, count=2)
    stdout, _, code = _bandwidth(lab, pods, "gpu-node-1", "gpu-node-0", 1)
    assert code == 0 and 194 < _gbps(stdout) < 198
    stdout, _, code = _bandwidth(lab, pods, "gpu-node-1", "gpu-node-0", 1, cuda=False)
    assert code == 0 and _gbps(stdout) > 390  # host memory: the GPU's NUMA node plays no part


# Faults and the shell -----------------------------------------------------------------------


def test_port_faults_are_validated_and_listed(probes):
    lab, _ = probes
    for body, message in [
        ({"link_down": {"node": "gpu-node-9", "rail": 1}}, "link_down.node must name a node"),
        ({"half_speed": {"node": "gpu-node-1", "rail": 8}}, "half_speed.rail must be a rail of gpu-node-1 (0-7)"),
        ({"mtu": {"node": "gpu-node-1", "rail": 1, "mtu": 100}}, "mtu.mtu must be an integer"),
        ({"dscp_untrusted": {"nodes": "all"}}, "dscp_untrusted.node must name a node"),
    ]:  # fmt: skip
        status, payload = lab.request("POST", "/labsim/admin/faults", body)
        assert status == 400 and message in payload["error"]
    state = lab.set_faults(
        {
            "link_down": [{"node": "gpu-node-1", "rail": 1}],
            "mtu": {"node": "gpu-node-0", "rail": 2, "mtu": 1500},
        }
    )
    assert state["link_down"] == [{"node": "gpu-node-1", "rail": 1}]
    assert state["mtu"] == [{"node": "gpu-node-0", "rail": 2, "mtu": 1500}]
    assert lab.clear_faults("link_down")["link_down"] == []


def test_probe_shell_background_jobs_wait_timeout_and_errors(probes):
    lab, pods = probes
    name = pods["gpu-node-0"].metadata.name
    stdout, _, code = run(
        lab, name, ["sh", "-c", "sleep 0.2 && echo late & echo early; wait; echo done"]
    )
    assert (stdout, code) == ("early\nlate\ndone\n", 0)
    started = time.monotonic()
    stdout, _, code = run(lab, name, ["sh", "-c", "timeout 0.2 sleep 5; echo $?-gone"])
    assert code == 0 and stdout == "124-gone\n" and time.monotonic() - started < 3
    _, stderr, code = run(lab, name, ["sh", "-c", "timeout 0.1 sleep 5"])
    assert code == 124
    _, stderr, code = run(lab, name, ["sh", "-c", "echo 'unterminated & wait"])
    assert code == 2 and "Syntax error" in stderr
    _, stderr, code = run(lab, name, ["sh", "-c", "nosuchtool -x & wait; nosuchtool"])
    assert (stderr, code) == ("sh: 1: nosuchtool: not found\n" * 2, 127)
    _, stderr, code = run(lab, name, ["sh", "-c", "echo x > /etc/passwd; wait"])
    assert "cannot create /etc/passwd" in stderr


# The node agent -----------------------------------------------------------------------------


def test_node_agent_runs_in_the_pod_with_its_sysfs_and_the_nodes_pod_resources(probes):
    lab, pods = probes
    lab.set_fault(
        link_down={"node": "gpu-node-1", "rail": 3}, half_speed={"node": "gpu-node-1", "rail": 5}
    )
    pod = pods["gpu-node-1"]
    stdout, stderr, code = run(
        lab, pod.metadata.name, ["python3", "-m", "agent"], container="agent"
    )
    assert (stderr, code) == ("", 0)
    document = json.loads(stdout)
    assert document["node"] == "gpu-node-1"  # NODE_NAME from the downward API
    netdevs = {n["name"]: n for n in document["netdevs"]}
    assert sorted(netdevs) == ["eth0", *[f"net{i}" for i in range(1, 9)]]
    net1 = netdevs["net1"]
    assert (net1["kind"], net1["pf_pci"], net1["numa_node"], net1["speed_mbps"]) == (
        "vf", "0000:18:00.0", 0, 400000,
    )  # fmt: skip
    assert net1["rdma_devices"] == [rails_of(pod)[0]["rdma"]]
    assert (netdevs["net4"]["operstate"], netdevs["net4"]["speed_mbps"]) == ("down", None)
    assert netdevs["net6"]["speed_mbps"] == 200000 and netdevs["net8"]["numa_node"] == 1
    resources = document["pod_resources"]
    assert resources["error"] is None
    own = next(p for p in resources["pods"] if p["name"] == pod.metadata.name)
    devices = {d["ids"][0]: d for c in own["containers"] for d in c["devices"]}
    assert {d["resource"] for d in devices.values()} == {
        "nvidia.com/gpu",
        *[f"nvidia.com/rail{r}_vf" for r in range(8)],
    }
    assert devices[net1["pci"]]["numa_nodes"] == [0]
    assert {p["namespace"] for p in resources["pods"]} == {NAMESPACE, "kube-system"}
    # The tools container runs no agent; a missing mount is the agent's own error.
    _, _, code = run(lab, pod.metadata.name, ["python3", "-m", "agent"], container="probe")
    assert code == 127
    stdout, _, _ = run(lab, pod.metadata.name,
                       ["python3", "-m", "agent", "--pod-resources", "/run/nothing.sock"], container="agent")  # fmt: skip
    assert json.loads(stdout)["pod_resources"]["error"].startswith("no PodResources socket at")
