"""Findings of a validation run, each tied to a cause and a fix. Pure: the per-rail results
(clusters.validation.results), what the node agents saw (`RailFacts` per node and rail) and
what mlnx_qos reported, in; finding dicts out.

- RAIL_LINK_DOWN: a node no peer reaches on a rail, and that reaches none (its port).
- RDMA_BLOCKED: ping passes but RDMA writes fail or stall (DSCP/PFC not trusted on the PF, as
  mlnx_qos shows; or the path drops RoCE frames).
- RDMA_LOW_BANDWIDTH: well under the rail's line rate, with the cause named: the VF on another
  NUMA node than the GPU it serves, or the link negotiated a lower speed.
- MTU_MISMATCH: an interface's MTU differs from the rail's, or frames of the rail's MTU do not
  cross a node's path (strict).
- CROSS_RAIL_REACHABLE: a rail's interface reaches another rail's subnet (strict).
- ICMP_LOSS: pairs that lose echoes without a node to blame.
A failure on a node's every rail with one cause is one finding (rail null) naming the rails.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from clusters.validation.parsers import QosState
from clusters.validation.results import LOST, UNREACHABLE, pair_failures

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}
CODES = {
    "PROBE_NOT_READY": "The probe pod on a node did not become Ready",
    "PROBE_TOOL_MISSING": "The probe image lacks a tool the test needs",
    "PROBE_EXEC_FAILED": "A probe command could not be run",
    "AGENT_UNAVAILABLE": "The node agent did not answer; causes cannot be named there",
    "RAIL_LINK_DOWN": "A node is unreachable on a rail from every peer",
    "ICMP_LOSS": "Pings between some nodes are lost",
    "RDMA_BLOCKED": "Ping passes but RDMA fails or stalls",
    "RDMA_LOW_BANDWIDTH": "RDMA runs well under the rail's line rate",
    "MTU_MISMATCH": "Frames of the rail's MTU do not cross a node's path",
    "CROSS_RAIL_REACHABLE": "A rail's interface reaches another rail's subnet",
}
LOW_BANDWIDTH_RATIO = 0.8


@dataclass(frozen=True)
class RailFacts:
    """What a node's agent saw of its rail interface (None: unknown)."""

    interface: str
    operstate: str | None = None
    speed_gbps: float | None = None
    mtu: int | None = None
    vf_pci: str | None = None
    pf_pci: str | None = None
    vf_numa: int | None = None
    gpu_numa: int | None = None  # of the GPU paired with the rail (GPUDirect)
    gpu: int | None = None


def finding(code, severity, message, fix, *, rail=None, node=None, peer=None, evidence=""):
    return {
        "code": code,
        "severity": severity,
        "rail": rail,
        "node": node,
        "peer": peer,
        "message": message,
        "fix": fix,
        "evidence": evidence,
    }


def most_common(values):
    values = [v for v in values if v is not None]
    return Counter(values).most_common(1)[0][0] if values else None


def _names(items, limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _rails_text(rails: list[int]) -> str:
    return "rail " + str(rails[0]) if len(rails) == 1 else "rails " + _names(rails, 8)


class _Builder:
    def __init__(self, nodes, rails, facts, qos, low_ratio):
        self.nodes = nodes
        self.rails = rails
        self.facts: dict[tuple[int, int], RailFacts] = facts
        self.qos: dict[tuple[int, int], QosState] = qos
        self.low_ratio = low_ratio
        self.found: list[dict] = []
        # (code, node, cause) -> {rail: finding}, merged across rails at the end
        self.per_node: dict[tuple, dict[int, dict]] = defaultdict(dict)
        self.mtu_explained: set[tuple[int, int]] = set()

    def add(self, item: dict, cause: str | None = None, node_index: int | None = None):
        if cause is not None and node_index is not None and item["rail"] is not None:
            self.per_node[(item["code"], node_index, cause)][item["rail"]] = item
        else:
            self.found.append(item)

    def fact(self, node: int, rail: int) -> RailFacts | None:
        return self.facts.get((node, rail))

    # ICMP ------------------------------------------------------------------------------

    def icmp(self, data: dict) -> set[tuple[int, int]]:
        """Findings from the ping matrix; returns the unordered pairs that failed."""
        rail = data["rail"]
        status = data["status"]
        counts = pair_failures(status)
        count = len(status)
        failed_pairs = {
            (i, j)
            for i in range(count)
            for j in range(i + 1, count)
            if status[i][j] in (LOST, UNREACHABLE)
        }
        down = [i for i, (tested, failed) in counts.items() if tested and failed == tested]
        if len(down) == count and count > 2:
            self.add(finding(
                "RAIL_LINK_DOWN", ERROR,
                f"No node reaches any other on rail {rail} ({data['interface']}, {data['nad']}): "
                "the whole rail is down, or its network is not what the NAD says.",
                f"Check rail {rail}'s leaf switch and the NAD {data['nad']} (subnet "
                f"{data['subnet']}); `ip -br addr` in a pod shows what each interface got.",
                rail=rail,
                evidence=f"{len(failed_pairs)} of {len(failed_pairs)} pairs without an answer",
            ))  # fmt: skip
            return failed_pairs
        if len(down) == 2 and count == 2:
            linked = [i for i in down if (self.fact(i, rail) or RailFacts("")).operstate == "down"]
            down = linked or down
        for i in down:
            self.add(self._link_down(data, i, counts[i][0]))
        blamed = set(down)
        loose = sorted(p for p in failed_pairs if not blamed & set(p))
        partial = [(key, loss) for key, loss in data["loss"].items()]
        if loose or partial:
            described = [f"{self.nodes[i]} ↔ {self.nodes[j]} (no answer)" for i, j in loose]
            described += [
                f"{self.nodes[int(k.split(',')[0])]} → {self.nodes[int(k.split(',')[1])]} "
                f"({loss:g}% lost)"
                for k, loss in partial
                if int(k.split(",")[0]) < int(k.split(",")[1])
            ]
            self.add(finding(
                "ICMP_LOSS", WARNING,
                f"On rail {rail} ({data['interface']}), {len(described)} pair(s) lose echoes "
                f"with no single node to blame: {_names(described, 5)}.",
                "Look at the links and leaf ports between those nodes (interface error "
                "counters with `ethtool -S`, the switch's port counters) and at ACLs on the rail.",
                rail=rail,
                node=self.nodes[loose[0][0]] if loose else None,
                peer=self.nodes[loose[0][1]] if loose else None,
            ))  # fmt: skip
        return failed_pairs

    def _link_down(self, data: dict, i: int, peers: int) -> dict:
        rail = data["rail"]
        node = self.nodes[i]
        facts = self.fact(i, rail)
        interface = data["interface"]
        if facts and facts.operstate == "down":
            cause = f"its link is down ({interface}: operstate down, no carrier)"
            fix = (
                f"Check {node}'s port on rail {rail}: the cable or transceiver of PF "
                f"{facts.pf_pci or '?'} and the leaf switch port (`ethtool` on the PF shows "
                "'Link detected: no'); bring the port up."
            )
        elif facts and facts.operstate:
            cause = f"its link is up ({interface}: {facts.operstate}), so the fault is past the NIC"
            fix = (
                f"Check the leaf port {node} plugs into on rail {rail} (VLAN, port state), "
                f"and that {interface} has its address (`ip -br addr`)."
            )
        else:
            cause = "the agent could not tell the link's state"
            fix = f"Check {node}'s port on rail {rail} and the leaf switch port it plugs into."
        return finding(
            "RAIL_LINK_DOWN", ERROR,
            f"{node} is unreachable on rail {rail} ({interface}): none of its {peers} peer(s) "
            f"answer its pings or get answers from it; {cause}.",
            fix, rail=rail, node=node,
            evidence=f"{peers} of {peers} pairs without an answer"
            + (f"; agent: {interface} speed {facts.speed_gbps or '-'} Gb/s, mtu {facts.mtu}" if facts else ""),
        )  # fmt: skip

    # RDMA ------------------------------------------------------------------------------

    def rdma(self, data: dict, icmp_failed: set[tuple[int, int]]) -> None:
        rail = data["rail"]
        tests = [
            t for t in data["rdma"] if tuple(sorted((t["client"], t["server"]))) not in icmp_failed
        ]
        if not tests:
            return
        failed = [t for t in tests if t["gbps"] is None]
        per_node: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for test in tests:
            for node in {test["client"], test["server"]}:
                per_node[node][0] += 1
                per_node[node][1] += test["gbps"] is None
        blocked = [i for i, (tested, bad) in per_node.items() if tested and bad == tested]
        distrusted = [i for i in blocked if self._untrusted(i, rail)]
        if distrusted and len(distrusted) < len(blocked):
            blocked = distrusted
        if len(blocked) == len(per_node) and len(per_node) > 2 and not distrusted:
            self.add(finding(
                "RDMA_BLOCKED", ERROR,
                f"RDMA fails between every pair tested on rail {rail} ({data['interface']}) while "
                "ping passes: " + (failed[0]["error"] or "no result") + ".",
                "Check that the NAD's VFs are RDMA-capable (isRdma in the device plugin, rdma "
                "CNI or exclusive RDMA netns), the probe has IPC_LOCK, and the rail's switches "
                "carry RoCE (PFC/ECN on the RDMA priority, jumbo frames).",
                rail=rail, evidence=f"{len(failed)} of {len(tests)} tests failed",
            ))  # fmt: skip
            return
        for i in blocked:
            self._blocked(data, i, [t for t in tests if i in (t["client"], t["server"])])
        blamed = set(blocked)
        for test in failed:
            if {test["client"], test["server"]} & blamed:
                continue
            client, server = self.nodes[test["client"]], self.nodes[test["server"]]
            self.add(finding(
                "RDMA_BLOCKED", ERROR,
                f"RDMA from {client} to {server} on rail {rail} fails while ping passes: "
                f"{test['error'] or 'no result'}.",
                "Run mlnx_qos -i on both nodes' PFs (trust dscp, PFC on the RDMA priority) and "
                "check the leaf ports between them.",
                rail=rail, node=client, peer=server,
            ))  # fmt: skip
        self._low(data, [t for t in tests if t["gbps"] is not None])

    def _untrusted(self, node: int, rail: int) -> bool:
        state = self.qos.get((node, rail))
        return bool(state and state.trust and state.trust != "dscp")

    def _blocked(self, data: dict, i: int, tests: list[dict]) -> None:
        rail = data["rail"]
        node = self.nodes[i]
        if (i, rail) in self.mtu_explained:
            return
        state = self.qos.get((i, rail))
        rping = [t["rping"] for t in tests if t["rping"] is not None]
        setup = (
            "connections open (rping passes) but RDMA writes stall"
            if rping and all(rping)
            else "RDMA connections fail too (rping)"
        )
        error = next((t["error"] for t in tests if t["error"]), "no result")
        if state and state.trust and state.trust != "dscp":
            cause = "dscp"
            message = (
                f"RDMA from and to {node} fails on {{rails}} while ping passes: {setup} "
                f"({error}). Its PF trusts {state.trust.upper()}, not DSCP, so RoCE traffic "
                "misses the lossless (PFC) class."
            )
            fix = (
                f"On {node}, set the PFs to trust DSCP and enable PFC on the RDMA priority: "
                "`mlnx_qos -i <PF> --trust dscp --pfc 0,0,0,1,0,0,0,0` (VFs inherit it; the "
                "NVIDIA Network Operator's NicClusterPolicy or a node config DaemonSet makes "
                "it stick), and match the switch's PFC/ECN settings."
            )
            evidence = f"mlnx_qos -i {data['interface']}: {state.text.replace(chr(10), ' | ')}"
        else:
            cause = "unknown"
            known = f"its PF trusts {state.trust}" if state and state.trust else (
                f"mlnx_qos could not tell ({state.error})" if state else "mlnx_qos was not run"
            )  # fmt: skip
            message = (
                f"RDMA from and to {node} fails on {{rails}} while ping passes: {setup} "
                f"({error}); {known}."
            )
            fix = (
                f"Check {node}'s RoCE path: PFC/ECN on the switch port, the path MTU for "
                "4 KiB RoCE frames (run a strict validation), and `rdma link` state in the pod."
            )
            evidence = ""
        self.add(
            finding("RDMA_BLOCKED", ERROR, message, fix, rail=rail, node=node, evidence=evidence),
            cause, i,
        )  # fmt: skip

    def _line_rate(self, data: dict) -> float | None:
        speeds = [f.speed_gbps for (i, r), f in self.facts.items() if r == data["rail"]]
        return most_common(speeds) or max(
            (t["gbps"] for t in data["rdma"] if t["gbps"]), default=None
        )

    def _low(self, data: dict, measured: list[dict]) -> None:
        rail = data["rail"]
        line_rate = self._line_rate(data)
        data["line_rate_gbps"] = line_rate
        if not line_rate:
            return
        threshold = line_rate * self.low_ratio
        low = [t for t in measured if t["gbps"] < threshold]
        if not low:
            return
        per_node: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for test in measured:
            for node in {test["client"], test["server"]}:
                per_node[node][0] += 1
                per_node[node][1] += test["gbps"] < threshold
        blamed = set()
        for i in sorted({n for t in low for n in (t["client"], t["server"])}):
            facts = self.fact(i, rail)
            speeds = [t["gbps"] for t in low if i in (t["client"], t["server"])]
            measured_text = f"{min(speeds):.0f} Gb/s of the rail's {line_rate:.0f} Gb/s"
            all_low = bool(per_node[i][0]) and per_node[i][1] == per_node[i][0]
            verdict = self._low_cause(i, facts, line_rate, measured_text, all_low)
            if verdict is None:
                continue
            cause, message, fix = verdict
            blamed.add(i)
            evidence = ", ".join(
                f"{self.nodes[t['client']]}→{self.nodes[t['server']]} {t['gbps']:.0f} Gb/s"
                for t in low
                if i in (t["client"], t["server"])
            )
            if cause == "numa":
                evidence = (
                    f"{facts.interface} VF {facts.vf_pci} on NUMA {facts.vf_numa}, its GPU "
                    f"(CUDA {facts.gpu}) on NUMA {facts.gpu_numa}; {evidence}"
                )
            node = self.nodes[i]
            self.add(
                finding("RDMA_LOW_BANDWIDTH", WARNING, message, fix, rail=rail, node=node, evidence=evidence),
                cause, i,
            )  # fmt: skip
        self._low_pairs(
            rail, line_rate, [t for t in low if not {t["client"], t["server"]} & blamed]
        )

    def _low_cause(self, i: int, facts, line_rate: float, measured_text: str, all_low: bool):
        """(cause, message, fix) for a node whose RDMA is slow: a slower link, a NUMA split, or
        every test of it slow for no reason the agent sees; None when no cause is its own."""
        node = self.nodes[i]
        if facts and facts.speed_gbps and facts.speed_gbps < line_rate * 0.95:
            return (
                "speed",
                f"RDMA to and from {node} on {{rails}} reaches only {measured_text}: "
                f"{facts.interface}'s link negotiated {facts.speed_gbps:.0f} Gb/s.",
                f"Check {node}'s port on that rail: the cable or transceiver (a lane down, "
                "a lower-rated optic), and the switch port's speed; `ethtool <PF>` shows "
                "the negotiated speed.",
            )
        if (
            facts
            and None not in (facts.vf_numa, facts.gpu_numa)
            and facts.vf_numa != facts.gpu_numa
        ):
            return (
                "numa",
                f"RDMA to and from {node} on {{rails}} reaches only {measured_text}: its VFs "
                "sit on another NUMA node than the GPUs they serve, so GPUDirect traffic "
                'crosses the socket link ("RDMA works but throughput is half").',
                "Turn on Topology Manager (single-numa-node or restricted) with the SR-IOV and "
                "GPU device plugins' NUMA hints, and request GPUs and rails of one NUMA node "
                "per pod.",
            )
        if all_low:
            return (
                "unknown",
                f"RDMA to and from {node} on {{rails}} reaches only {measured_text}; the "
                "agent shows neither a slower link nor a NUMA split.",
                "Check PCIe width and speed of the NIC (lspci -vv), and the host's load.",
            )
        return None

    def _low_pairs(self, rail: int, line_rate: float, low: list[dict]) -> None:
        """Slow pairs that no node's own cause explains."""
        for test in low:
            client, server = self.nodes[test["client"]], self.nodes[test["server"]]
            self.add(finding(
                "RDMA_LOW_BANDWIDTH", WARNING,
                f"RDMA from {client} to {server} on rail {rail} reaches only "
                f"{test['gbps']:.0f} Gb/s of {line_rate:.0f} Gb/s.",
                "Compare both nodes' link speeds and NUMA placement; rerun in full mode to see "
                "which end is slow.",
                rail=rail, node=client, peer=server,
            ))  # fmt: skip

    # MTU and cross-rail ----------------------------------------------------------------

    def mtu(self, data: dict, icmp_failed: set[tuple[int, int]]) -> None:
        rail = data["rail"]
        count = len(data["status"])
        expected = most_common(self.fact(i, rail).mtu for i in range(count) if self.fact(i, rail))
        flagged: dict[int, str] = {}
        for i in range(count):
            facts = self.fact(i, rail)
            if facts and expected and facts.mtu and facts.mtu != expected:
                flagged[i] = (
                    f"{facts.interface} on {self.nodes[i]} has MTU {facts.mtu} while the rail's "
                    f"other interfaces have {expected}"
                )
        sweep = data.get("mtu")
        if sweep:
            counts = pair_failures(sweep["status"])
            for i, (tested, failed) in counts.items():
                if not tested or failed < tested or i in flagged:
                    continue
                small_failed = sum(1 for p in icmp_failed if i in p)
                if small_failed == tested:
                    continue  # nothing passes at all: RAIL_LINK_DOWN says it
                facts = self.fact(i, rail)
                said = (
                    f"the interface says {facts.mtu}"
                    if facts and facts.mtu
                    else "the agent did not say"
                )
                flagged[i] = (
                    f"frames of {sweep['size'] + 28} bytes (pings of {sweep['size']} with DF) "
                    f"do not cross between {self.nodes[i]} and any peer while small pings do "
                    f"({said}): a switch port or link on its path has a smaller MTU"
                )
        rdma_failed = {
            node for t in data["rdma"] if t["gbps"] is None for node in (t["client"], t["server"])
        }
        for i, reason in sorted(flagged.items()):
            also = ""
            if i in rdma_failed:
                also = "; RDMA fails there too, as RoCE frames of 4 KiB are dropped"
                self.mtu_explained.add((i, rail))
            self.add(finding(
                "MTU_MISMATCH", ERROR,
                f"On rail {rail}, {reason}{also}.",
                f"Give every interface and switch port of rail {rail} the same MTU (the plan's "
                f"{expected or 'MTU'} on the NICs through the SR-IOV policy or NAD, and 9216 on "
                "the switch ports).",
                rail=rail, node=self.nodes[i],
            ))  # fmt: skip

    def cross(self, data: dict) -> None:
        rail = data["rail"]
        reached = [c for c in data["cross"] if c.get("reached")]
        if not reached:
            return
        tested = {c["node"] for c in data["cross"]}
        nodes = sorted({c["node"] for c in reached})
        example = reached[0]
        self.add(finding(
            "CROSS_RAIL_REACHABLE", WARNING,
            f"Rail {rail}'s interface ({data['interface']}) reaches rail {example['target_rail']}'s "
            f"subnet (e.g. {example['node']} → {example['target']})"
            + (" from every node" if set(nodes) == tested else f" from {_names(nodes)}")
            + ": traffic meant for one rail can cross to another, through the spine or a route.",
            "Keep each rail's subnet on its own leaves (rail-only fabric), and give the NADs no "
            "routes to other rails' subnets.",
            rail=rail, node=None if set(nodes) == tested else nodes[0],
        ))  # fmt: skip

    # Merging -----------------------------------------------------------------------------

    def merged(self, tested_rails: dict[int, set[int]]) -> list[dict]:
        found = list(self.found)
        for (_code, node_index, cause), by_rail in self.per_node.items():
            rails = sorted(by_rail)
            first = by_rail[rails[0]]
            if (
                len(rails) > 1
                and cause != "unknown"
                and set(rails) >= tested_rails.get(node_index, set())
            ):
                item = dict(first, rail=None)
                item["message"] = first["message"].replace(
                    "{rails}", f"all its rails ({_rails_text(rails)})"
                )
                found.append(item)
                continue
            for rail in rails:
                item = dict(by_rail[rail])
                item["message"] = item["message"].replace("{rails}", f"rail {rail}")
                found.append(item)
        return found


def derive(
    nodes: list[str],
    rails: list[dict],
    facts: dict[tuple[int, int], RailFacts],
    qos: dict[tuple[int, int], QosState] | None = None,
    *,
    low_ratio: float = LOW_BANDWIDTH_RATIO,
) -> list[dict]:
    """Findings over every rail's results, sorted errors first. Each rail's `line_rate_gbps`
    is filled in (the most common link speed the agents saw on it)."""
    builder = _Builder(nodes, rails, facts, qos or {}, low_ratio)
    tested: dict[int, set[int]] = defaultdict(set)
    for data in rails:
        failed = builder.icmp(data)
        builder.mtu(data, failed)
        builder.rdma(data, failed)
        builder.cross(data)
        for test in data["rdma"]:
            for node in (test["client"], test["server"]):
                tested[node].add(data["rail"])
    return sort_findings(builder.merged(tested))


def sort_findings(found: list[dict]) -> list[dict]:
    return sorted(
        found,
        key=lambda f: (
            SEVERITY_ORDER.get(f["severity"], 3),
            f["code"],
            f["node"] or "",
            -1 if f["rail"] is None else f["rail"],
            f["peer"] or "",
        ),
    )


def counts(found: list[dict]) -> dict[str, int]:
    tally = Counter(f["severity"] for f in found)
    return {severity: tally.get(severity, 0) for severity in (ERROR, WARNING, INFO)}
