"""Parsers for what the probe tools print: iputils/busybox ping summaries, perftest's
ib_write_bw report, rping, mlnx_qos and the node agent's JSON. Pure; they never trust the text
(every number is read by a pattern, every size is bounded)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_SECTION_ERROR = 300

# One ping's summary (iputils or busybox): target, sent, received, errors, then min/avg/max.
_PING = re.compile(
    r"--- (\S+) ping statistics ---\n(\d+) packets transmitted, (\d+)(?: packets)? received"
    r"(?:, \+(\d+) errors)?.*(?:\n|$)(?:r\S+ min/avg/max\S* = ([\d.]+)/([\d.]+)/([\d.]+))?"
)
_BW_RESULT = re.compile(
    r"^\s*#bytes\s+#iterations\s+BW peak\[(?P<unit>Gb/sec|MB/sec)\]\s+BW average\[(?:Gb/sec|MB/sec)\]"
    r".*\n\s*(?P<bytes>\d+)\s+(?P<iters>\d+)\s+(?P<peak>[\d.]+)\s+(?P<average>[\d.]+)",
    re.M,
)
_BW_DEVICE = re.compile(r"Device\s*:\s*(\S+)")
_BW_MTU = re.compile(r"^\s*Mtu\s*:\s*(\d+)\[B\]", re.M)
_RPING_DATA = re.compile(r"^ping data: rdma-ping-\d+", re.M)
_TRUST = re.compile(r"^Priority trust state:\s*(\w+)", re.M)
_PFC = re.compile(r"^\s*enabled\s+((?:[01]\s+){7}[01])", re.M)


class PingResult(NamedTuple):
    """One ping's summary (a tuple: a sweep of 512 nodes has a million of them)."""

    transmitted: int
    received: int
    errors: int
    loss: float
    rtt_avg: float | None  # milliseconds
    rtt_min: float | None = None
    rtt_max: float | None = None


@dataclass
class Section:
    kind: str
    args: list[str]
    text: str
    exit_code: int | None = None


def sections(stdout: str) -> list[Section]:
    """Split a batched command's output at its `@kind args` marker lines; an `@exit N` line
    gives the exit code of the section before it. (The tools' own lines never start with @.)"""
    found: list[Section] = []
    for part in ("\n" + stdout).split("\n@")[1:]:
        head, _, text = part.partition("\n")
        words = head.split()
        if not words or not words[0].isidentifier():
            continue
        kind, args = words[0], words[1:]
        if kind == "exit" and found:
            found[-1].exit_code = int(args[0]) if args and args[0].lstrip("-").isdigit() else None
            continue
        found.append(Section(kind, args, text + "\n"))  # the split took the line's end
    return found


def ping_summaries(text: str) -> dict[str, PingResult]:
    """{target: result} for every ping summary in the text (iputils or busybox format); the
    loss is worked out from the counts, as ping does."""
    results = {}
    for ip, sent, got, errors, low, average, high in _PING.findall(text):
        transmitted, received = int(sent), int(got)
        results[ip] = PingResult(
            transmitted,
            received,
            int(errors) if errors else 0,
            100.0 * (transmitted - received) / transmitted if transmitted else 100.0,
            float(average) if average else None,
            float(low) if low else None,
            float(high) if high else None,
        )
    return results


@dataclass(frozen=True)
class BandwidthResult:
    gbps: float | None
    error: str = ""
    device: str | None = None
    rdma_mtu: int | None = None
    timed_out: bool = False


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:])[:MAX_SECTION_ERROR]


def ib_write_bw(text: str, exit_code: int | None) -> BandwidthResult:
    device = _BW_DEVICE.search(text)
    mtu = _BW_MTU.search(text)
    common = {
        "device": device.group(1) if device else None,
        "rdma_mtu": int(mtu.group(1)) if mtu else None,
    }
    match = _BW_RESULT.search(text)
    if match and exit_code in (0, None):
        average = float(match["average"])
        gbps = average if match["unit"] == "Gb/sec" else average * 2**20 * 8 / 1e9
        return BandwidthResult(gbps, **common)
    if exit_code == 124:
        return BandwidthResult(
            None, "no result within the time limit (stalled)", timed_out=True, **common
        )
    if exit_code == 127:
        return BandwidthResult(None, "ib_write_bw is not installed in the probe image", **common)
    failed = re.search(r"Failed status (\d+)", text)
    if failed:
        return BandwidthResult(
            None, f"RDMA writes failed (completion status {failed.group(1)}: transport retry "
            "counter exceeded)" if failed.group(1) == "12" else f"completion status {failed.group(1)}",
            **common,
        )  # fmt: skip
    return BandwidthResult(None, _last_lines(text) or f"exit code {exit_code}", **common)


def rping(text: str, exit_code: int | None) -> tuple[bool, str]:
    if exit_code == 0 and "client DISCONNECT EVENT" in text:
        return True, f"{len(_RPING_DATA.findall(text))} messages"
    if exit_code == 124:
        return False, "no answer within the time limit"
    if exit_code == 127:
        return False, "rping is not installed in the probe image"
    return False, _last_lines(text) or f"exit code {exit_code}"


@dataclass(frozen=True)
class QosState:
    trust: str | None
    pfc: list[int] = field(default_factory=list)  # priorities with PFC on
    text: str = ""
    error: str = ""


def mlnx_qos(text: str, exit_code: int | None) -> QosState:
    trust = _TRUST.search(text)
    pfc = _PFC.search(text)
    enabled = [i for i, flag in enumerate(pfc.group(1).split()) if flag == "1"] if pfc else []
    head = "\n".join(text.splitlines()[:3])
    if trust is None:
        reason = "mlnx_qos is not installed in the probe image" if exit_code == 127 else (
            _last_lines(text) or f"exit code {exit_code}"
        )  # fmt: skip
        return QosState(None, [], head, reason)
    return QosState(trust.group(1), enabled, head)


@dataclass
class AgentReport:
    node: str | None
    netdevs: dict[str, dict]  # by interface name
    pods: list[dict]
    error: str = ""

    def pod(self, namespace: str, name: str) -> dict | None:
        return next(
            (p for p in self.pods if p.get("namespace") == namespace and p.get("name") == name),
            None,
        )


def agent(stdout: str, exit_code: int | None) -> AgentReport:
    """The agent's document; an AgentReport with `error` when it is not one."""
    try:
        document = json.loads(stdout) if len(stdout) < 32 * 1024 * 1024 else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("agent") != "railstudio-agent":
        reason = "the agent is not in the agent image" if exit_code == 127 else (
            f"unreadable agent output (exit code {exit_code}): {stdout[:120]!r}"
        )  # fmt: skip
        return AgentReport(None, {}, [], reason)
    netdevs = {
        str(item["name"]): item
        for item in document.get("netdevs") or []
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    resources = document.get("pod_resources") or {}
    pods = [p for p in resources.get("pods") or [] if isinstance(p, dict)]
    error = resources.get("error") or ""
    return AgentReport(document.get("node"), netdevs, pods, str(error)[:MAX_SECTION_ERROR])


def pod_devices(
    report: AgentReport, namespace: str, name: str
) -> dict[str, list[tuple[str, list[int]]]]:
    """{resource: [(device id, NUMA nodes)]} the agent saw the kubelet give a pod, in order."""
    pod = report.pod(namespace, name)
    devices: dict[str, list[tuple[str, list[int]]]] = {}
    for container in (pod or {}).get("containers") or []:
        for item in container.get("devices") or []:
            if not isinstance(item, dict):
                continue
            numa = [n for n in item.get("numa_nodes") or [] if isinstance(n, int)]
            for device_id in item.get("ids") or []:
                devices.setdefault(str(item.get("resource")), []).append((str(device_id), numa))
    return devices
