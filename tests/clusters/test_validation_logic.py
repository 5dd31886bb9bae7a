"""The pure parts of rail validation: who pings whom, the commands, the parsers, the matrices,
the findings and the heatmaps."""

import struct
import zlib
from itertools import combinations

import pytest

from clusters.validation import commands, compare, findings, heatmap, parsers, results, schedule
from clusters.validation.commands import ProbeOptions, RailEndpoint, Sweep
from clusters.validation.findings import RailFacts
from clusters.validation.parsers import BandwidthResult, PingResult


@pytest.mark.parametrize("count", range(1, 10))
def test_every_unordered_pair_is_pinged_once_and_the_work_is_balanced(count):
    pairs = schedule.icmp_pairs(count)
    assert sorted(tuple(sorted(p)) for p in pairs) == list(combinations(range(count), 2))
    sent = [len(schedule.icmp_targets(count, i)) for i in range(count)]
    assert max(sent, default=0) - min(sent, default=0) <= 1


def test_rdma_rounds_pair_each_node_once_per_round():
    assert schedule.rdma_rounds(1, "quick", 16) == []
    assert schedule.rdma_rounds(8, "quick", 16) == [1]
    assert schedule.rdma_rounds(8, "full", 16) == [1, 2, 3, 4, 5, 6, 7]  # every ordered pair
    assert schedule.rdma_rounds(100, "strict", 16) == list(range(1, 17))
    for offset in (1, 3):
        pairs = schedule.rdma_pairs(5, offset)
        assert sorted(c for c, _ in pairs) == sorted(s for _, s in pairs) == list(range(5))
    assert schedule.cross_rail_target(8, 7) == 0 and schedule.cross_rail_target(1, 0) is None


# Commands -----------------------------------------------------------------------------------


def test_commands_are_fixed_templates_of_checked_values():
    endpoint = RailEndpoint(rail=2, interface="net3", ip="10.52.1.0", rdma="mlx5_10", gpu=2)
    targets = [f"10.52.1.{i}" for i in range(1, 4)]
    command = commands.sweep_command(
        {2: endpoint}, Sweep(icmp={2: targets}), ProbeOptions(ping_parallel=2), [endpoint], 300
    )
    assert command[:2] == ["sh", "-c"]
    lines = command[2].splitlines()
    assert lines[0] == "echo @icmp 2 net3"
    assert lines[1] == (
        "for ip in 10.52.1.1 10.52.1.2; do ping -n -q -c 3 -i 0.2 -w 2 -I net3 $ip & done; wait"
    )
    assert lines[2].startswith("for ip in 10.52.1.3; do")
    assert lines[3] == (
        "timeout 300 ib_write_bw -d mlx5_10 -R -F --report_gbits -D 2 -p 18517 --use_cuda=2 "
        ">/dev/null 2>&1 &"
    )
    assert lines[4] == "timeout 300 rping -s -a 10.52.1.0 -p 18617 -C 3 >/dev/null 2>&1 &"
    clients = commands.clients_command([(endpoint, "10.52.1.1")], ProbeOptions(gpudirect=False))
    assert clients[2].splitlines() == [
        "echo @rping 2 10.52.1.1",
        "timeout 20 rping -c -a 10.52.1.1 -p 18617 -C 3 -v 2>&1",
        "echo @exit $?",
        "echo @bw 2 10.52.1.1",
        "timeout 20 ib_write_bw -d mlx5_10 -R -F --report_gbits -D 2 -p 18517 10.52.1.1 2>&1",
        "echo @exit $?",
    ]


@pytest.mark.parametrize(
    "check,value",
    [
        (commands.ipv4, "10.0.0.1; reboot"),
        (commands.ipv4, "$(id)"),
        (commands.ifname, "net1 && rm -rf /"),
        (commands.ifname, "averyveryverylongname"),
        (commands.device, "mlx5_0`id`"),
        (commands.ifname, None),
    ],
)
def test_values_from_the_cluster_never_reach_a_shell_unchecked(check, value):
    with pytest.raises(commands.UnsafeValue):
        check(value)


# Parsers ------------------------------------------------------------------------------------

IPUTILS = """PING 10.50.1.1 (10.50.1.1) from 10.50.1.0 net1: 56(84) bytes of data.

--- 10.50.1.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 402ms
rtt min/avg/max/mdev = 0.021/0.024/0.027/0.002 ms
PING 10.50.1.2 (10.50.1.2) from 10.50.1.0 net1: 56(84) bytes of data.

--- 10.50.1.2 ping statistics ---
3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2041ms

PING 10.50.1.3 (10.50.1.3) from 10.50.1.0 net1: 56(84) bytes of data.

--- 10.50.1.3 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 404ms
rtt min/avg/max/mdev = 0.020/0.030/0.040/0.010 ms
"""
BUSYBOX = """PING 10.50.1.4 (10.50.1.4): 56 data bytes

--- 10.50.1.4 ping statistics ---
3 packets transmitted, 3 packets received, 0% packet loss
round-trip min/avg/max = 0.051/0.060/0.071 ms
"""


def test_ping_summaries_of_iputils_and_busybox():
    found = parsers.ping_summaries(IPUTILS + BUSYBOX)
    assert found["10.50.1.1"] == PingResult(3, 3, 0, 0.0, 0.024, 0.021, 0.027)
    assert (found["10.50.1.2"].received, found["10.50.1.2"].errors) == (0, 3)
    assert found["10.50.1.3"].loss == pytest.approx(100 / 3)
    assert found["10.50.1.4"].rtt_avg == 0.06
    assert [results.ping_status(found[ip]) for ip in sorted(found)] == ["o", "u", "p", "o"]


def test_a_summary_at_the_end_of_a_section_is_read():
    unreachable = IPUTILS.split("PING 10.50.1.3")[0].rstrip("\n")
    found = parsers.sections("@icmp 0 net1\n" + unreachable + "\n@icmp 1 net2\n")
    summaries = parsers.ping_summaries(found[0].text)
    assert sorted(summaries) == ["10.50.1.1", "10.50.1.2"]
    assert parsers.ping_summaries(unreachable)["10.50.1.2"].errors == 3  # no newline at all


def test_sections_split_batched_output_and_carry_exit_codes():
    text = "@rping 3 10.53.1.1\nping data: rdma-ping-0: ABC\nclient DISCONNECT EVENT...\n@exit 0\n@bw 3 10.53.1.1\n Failed status 12: wr_id 0 syndrom 0x81\n@exit 1\n"
    found = parsers.sections(text)
    assert [(s.kind, s.args, s.exit_code) for s in found] == [
        ("rping", ["3", "10.53.1.1"], 0),
        ("bw", ["3", "10.53.1.1"], 1),
    ]
    assert parsers.rping(found[0].text, 0) == (True, "1 messages")
    assert "transport retry counter exceeded" in parsers.ib_write_bw(found[1].text, 1).error


def test_ib_write_bw_reports_in_gbps_and_mbps_and_its_failures():
    gbits = (
        " Device         : mlx5_8\n Mtu             : 4096[B]\n"
        " #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n"
        " 65536      1501662          0.00               393.65 \t\t   0.750831\n"
    )
    result = parsers.ib_write_bw(gbits, 0)
    assert (result.gbps, result.device, result.rdma_mtu) == (393.65, "mlx5_8", 4096)
    mbytes = gbits.replace("Gb/sec", "MB/sec").replace("393.65", "46900.00")
    assert parsers.ib_write_bw(mbytes, 0).gbps == pytest.approx(393.4, abs=0.1)
    assert parsers.ib_write_bw(" RDMA_Write BW Test\n", 124).timed_out
    assert "not installed" in parsers.ib_write_bw("", 127).error
    assert parsers.ib_write_bw("Couldn't connect to 10.0.0.1:18515\n", 1).error == (
        "Couldn't connect to 10.0.0.1:18515"
    )


def test_mlnx_qos_and_agent_output():
    state = parsers.mlnx_qos(
        "DCBX mode: OS controlled\nPriority trust state: pcp\nPFC configuration:\n"
        "\tpriority    0   1   2   3   4   5   6   7\n\tenabled     0   0   0   1   0   0   0   0   \n",
        0,
    )
    assert (state.trust, state.pfc) == ("pcp", [3])
    assert parsers.mlnx_qos("sh: 1: mlnx_qos: not found\n", 127).error.startswith("mlnx_qos is not")
    report = parsers.agent(
        '{"agent": "railstudio-agent", "netdevs": [{"name": "net1", "mtu": 9000}], "pod_resources": {"pods": [{"namespace": "ns", "name": "p", "containers": [{"devices": [{"resource": "nvidia.com/gpu", "ids": ["GPU-1"], "numa_nodes": [1]}]}]}], "error": null}}',
        0,
    )
    assert report.netdevs["net1"]["mtu"] == 9000
    assert parsers.pod_devices(report, "ns", "p") == {"nvidia.com/gpu": [("GPU-1", [1])]}
    assert parsers.agent("not json", 1).error.startswith("unreadable agent output")


# Findings -----------------------------------------------------------------------------------

NODES = ["n0", "n1", "n2", "n3"]


def _ok(loss=0.0):
    received = 3 if loss == 0 else 2
    return PingResult(3, received, 0, loss, 0.024)


def _rail(rail=0, down=None, rdma=None, mtu=None):
    icmp = {}
    for i, j in schedule.icmp_pairs(4):
        if down is not None and down in (i, j):
            icmp[(i, j)] = PingResult(3, 0, 3, 100.0, None)
        else:
            icmp[(i, j)] = _ok()
    tests = rdma if rdma is not None else [
        results.RdmaTest(i, (i + 1) % 4, True, "3 messages", BandwidthResult(392.0)) for i in range(4)
    ]  # fmt: skip
    return results.rail_data(
        rail=rail, nad=f"sriov-rail-{rail}", interface=f"net{rail + 1}", subnet=f"10.5{rail}.0.0/16",
        tests=["icmp"], addresses=[f"10.5{rail}.1.{i}" for i in range(4)], icmp=icmp, rdma=tests, mtu=mtu,
    )  # fmt: skip


def _facts(overrides=None):
    base = {"interface": "net1", "operstate": "up", "speed_gbps": 400.0, "mtu": 9000,
            "vf_numa": 0, "gpu_numa": 0, "gpu": 0, "vf_pci": "0000:18:00.2", "pf_pci": "0000:18:00.0"}  # fmt: skip
    return {
        (i, r): RailFacts(**{**base, **(overrides or {}).get((i, r), {})})
        for i in range(4)
        for r in (0, 1)
    }


def test_a_healthy_rail_has_no_findings():
    assert findings.derive(NODES, [_rail(0), _rail(1)], _facts()) == []


def test_a_node_down_on_one_rail_is_blamed_on_its_port():
    facts = _facts({(2, 1): {"operstate": "down", "speed_gbps": None}})
    found = findings.derive(NODES, [_rail(0), _rail(1, down=2)], facts)
    assert [(f["code"], f["rail"], f["node"]) for f in found] == [("RAIL_LINK_DOWN", 1, "n2")]
    assert "its link is down" in found[0]["message"] and "0000:18:00.0" in found[0]["fix"]


def test_dscp_on_every_rail_of_a_node_is_one_finding_with_mlnx_qos_evidence():
    def failing(i):
        return results.RdmaTest(
            i,
            (i + 1) % 4,
            True,
            "3 messages",
            BandwidthResult(None, "status 12") if 3 in (i, (i + 1) % 4) else BandwidthResult(392.0),
        )

    rails = [_rail(r, rdma=[failing(i) for i in range(4)]) for r in (0, 1)]
    qos = {(3, r): parsers.QosState("pcp", [], "Priority trust state: pcp") for r in (0, 1)}
    found = findings.derive(NODES, rails, _facts(), qos)
    assert [(f["code"], f["rail"], f["node"]) for f in found] == [("RDMA_BLOCKED", None, "n3")]
    assert "trusts PCP" in found[0]["message"] and "mlnx_qos" in found[0]["fix"]
    assert "Priority trust state: pcp" in found[0]["evidence"]


def test_low_bandwidth_names_the_cause():
    slow = [
        results.RdmaTest(
            i, (i + 1) % 4, True, "", BandwidthResult(196.0 if 1 in (i, (i + 1) % 4) else 392.0)
        )
        for i in range(4)
    ]
    speed = findings.derive(NODES, [_rail(0, rdma=slow)], _facts({(1, 0): {"speed_gbps": 200.0}}))
    assert [(f["code"], f["rail"], f["node"]) for f in speed] == [("RDMA_LOW_BANDWIDTH", 0, "n1")]
    assert "negotiated 200 Gb/s" in speed[0]["message"]
    numa = findings.derive(NODES, [_rail(0, rdma=slow)], _facts({(1, 0): {"vf_numa": 1}}))
    assert "another NUMA node than the GPUs" in numa[0]["message"]
    assert "on NUMA 1, its GPU (CUDA 0) on NUMA 0" in numa[0]["evidence"]
    assert "Topology Manager" in numa[0]["fix"]


def test_mtu_mismatch_from_the_agent_and_from_pings_with_df():
    facts = _facts({(0, 0): {"mtu": 1500}})
    found = findings.derive(NODES, [_rail(0)], facts)
    assert [(f["code"], f["node"]) for f in found] == [("MTU_MISMATCH", "n0")]
    assert "MTU 1500" in found[0]["message"]
    sweep = {
        p: (_ok() if 2 not in p else PingResult(3, 0, 0, 100.0, None))
        for p in schedule.icmp_pairs(4)
    }
    found = findings.derive(NODES, [_rail(0, mtu=(8972, sweep))], _facts())
    assert [(f["code"], f["node"]) for f in found] == [("MTU_MISMATCH", "n2")]
    assert "9000 bytes" in found[0]["message"] and "switch port" in found[0]["message"]


def test_whole_rail_down_partial_loss_and_cross_rail():
    dead = {p: PingResult(3, 0, 3, 100.0, None) for p in schedule.icmp_pairs(4)}
    rail = results.rail_data(
        rail=0,
        nad="a",
        interface="net1",
        subnet="s",
        tests=[],
        addresses=["x"] * 4,
        icmp=dead,
        rdma=[],
    )
    found = findings.derive(NODES, [rail], {})
    assert [(f["code"], f["node"]) for f in found] == [("RAIL_LINK_DOWN", None)]
    lossy = {p: _ok() for p in schedule.icmp_pairs(4)}
    lossy[(0, 1)] = _ok(33.3)
    rail = results.rail_data(rail=0, nad="a", interface="net1", subnet="s", tests=[], addresses=["x"] * 4, icmp=lossy, rdma=[],
                             cross=[{"node": n, "target": "10.51.1.1", "target_rail": 1, "reached": True} for n in NODES])  # fmt: skip
    codes = sorted(f["code"] for f in findings.derive(NODES, [rail], {}))
    assert codes == ["CROSS_RAIL_REACHABLE", "ICMP_LOSS"]


# Heatmaps and comparison --------------------------------------------------------------------


def test_heatmap_cells_colour_failures_and_sort_failing_nodes_first():
    rail = _rail(1, down=2)
    order = heatmap.node_order(NODES, [rail])
    assert order[0] == 2
    svg = heatmap.svg(rail, NODES, order)
    assert svg.count('<rect class="cell') == 16
    assert svg.count('class="cell fail"') == 6  # n2's row and column
    assert "n2 → n0 · no echo · loss 100%" in svg
    assert "n0 → n1 · RTT 0.024 ms · loss 0% · RDMA 392.0 Gb/s" in svg


def test_big_heatmaps_are_one_png_with_a_pixel_per_pair():
    count = 60
    icmp = {p: _ok() for p in schedule.icmp_pairs(count)}
    icmp[(0, 1)] = PingResult(3, 0, 3, 100.0, None)
    rail = results.rail_data(
        rail=0,
        nad="a",
        interface="net1",
        subnet="s",
        tests=[],
        addresses=["x"] * count,
        icmp=icmp,
        rdma=[],
    )
    image = heatmap.png(rail, list(range(count)))
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image[16:24])
    assert (width, height) == (count, count)
    raw = zlib.decompress(image[image.index(b"IDAT") + 4 : image.index(b"IEND") - 8])
    row0 = raw[1 : 1 + count * 3]
    assert row0[3:6] == bytes.fromhex("dc2626") and row0[6:9] == bytes.fromhex("4ade80")
    assert "<image" in heatmap.svg(
        rail, [f"n{i}" for i in range(count)], list(range(count)), image_url="/x.png"
    )


def test_comparison_with_the_previous_run():
    now = [{"code": "RAIL_LINK_DOWN", "rail": 1, "node": "n2", "peer": None}]
    before = [{"code": "RDMA_BLOCKED", "rail": None, "node": "n3", "peer": None}]
    changes = compare.compare(now, before)
    assert (len(changes["new"]), len(changes["resolved"]), changes["unchanged"]) == (1, 1, 0)
    assert compare.compare(now, None) is None
    assert compare.failing_cells(_rail(1, down=2)) == 3
