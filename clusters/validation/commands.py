"""The exec commands a validation runs: fixed templates filled with values the run found in
the cluster (addresses from the probe pods' network-status, interface names from the plan,
RDMA device names from device-info), each checked against a strict pattern and quoted. No text
from a user ever reaches exec.

One exec per node carries a whole phase, with markers (`@icmp <rail> <if>`, `@bw <rail> <ip>`,
`@exit <code>`) that tell the parsers which part of the output is which:

- sweep: per rail, the node's ICMP targets in chunks of `ping_parallel` pings at once (`for ip in
  ...; do ping ... $ip & done; wait`: iputils writes each summary when it exits, in one piece),
  then in strict mode the same with DF at the rail MTU, and one ping from each rail's interface
  to another rail's subnet; finally the RDMA servers of round 1, started in the background with
  their output sent away and a `timeout`, so the exec returns while they listen.
- rdma servers (rounds after the first): the same background servers.
- rdma clients: per rail, `rping` then `ib_write_bw` to the node's peer of the round, one after
  the other (each rail alone on its VF), stderr joined to stdout, each followed by its exit code.
- qos: `mlnx_qos -i <if>` for the rails whose RDMA failed.
- agent: `python -m agent` in the agent container.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field

AGENT_COMMAND = ["python", "-m", "agent"]
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
_DOTTED_QUAD = re.compile(
    r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"
)
_DEVICE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
BW_PORT = 18515  # perftest's default port; rail r listens on BW_PORT + r
RPING_PORT = 18615


class UnsafeValue(ValueError):
    """A value from the cluster does not look like what it claims to be."""


def ipv4(value) -> str:
    """An IPv4 address in dotted-quad form (a million of them for a big sweep: a pattern, not
    the ipaddress module)."""
    if isinstance(value, str) and _DOTTED_QUAD.match(value):
        return value
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise UnsafeValue(f"not an IPv4 address: {str(value)[:64]!r}") from None


def ifname(value) -> str:
    if not isinstance(value, str) or not _IFNAME.match(value):
        raise UnsafeValue(f"not an interface name: {str(value)[:64]!r}")
    return value


def device(value) -> str:
    if not isinstance(value, str) or not _DEVICE.match(value):
        raise UnsafeValue(f"not an RDMA device name: {str(value)[:64]!r}")
    return value


@dataclass(frozen=True)
class ProbeOptions:
    ping_count: int = 3
    ping_interval: float = 0.2
    ping_deadline: int = 2
    ping_parallel: int = 64
    bw_seconds: int = 2
    tool_timeout: int = 20  # seconds for one rping or ib_write_bw client
    gpudirect: bool = True

    def ping_args(self, interface: str) -> list[str]:
        return [
            "ping", "-n", "-q", "-c", str(self.ping_count), "-i", str(self.ping_interval),
            "-w", str(self.ping_deadline), "-I", ifname(interface),
        ]  # fmt: skip

    def bw_args(self, rail: int, rdma: str, gpu: int | None) -> list[str]:
        args = [
            "ib_write_bw", "-d", device(rdma), "-R", "-F", "--report_gbits",
            "-D", str(self.bw_seconds), "-p", str(BW_PORT + rail),
        ]  # fmt: skip
        if self.gpudirect and gpu is not None:
            args.append(f"--use_cuda={int(gpu)}")
        return args


@dataclass(frozen=True)
class RailEndpoint:
    rail: int
    interface: str
    ip: str
    rdma: str | None = None
    gpu: int | None = None  # the CUDA device paired with the rail (GPUDirect)


@dataclass
class Sweep:
    """What one node pings: per rail, targets; strict adds DF targets and cross-rail ones."""

    icmp: dict[int, list[str]] = field(default_factory=dict)
    mtu: dict[int, tuple[int, list[str]]] = field(default_factory=dict)  # rail: (size, targets)
    cross: dict[int, list[str]] = field(default_factory=dict)


def _quote(words: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def _chunks(items: list[str], size: int):
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def _ping_loops(prefix: list[str], targets: list[str], parallel: int) -> list[str]:
    return [
        f"for ip in {' '.join(ipv4(ip) for ip in chunk)}; do {_quote(prefix)} $ip & done; wait"
        for chunk in _chunks(targets, parallel)
    ]


def server_lines(endpoints: list[RailEndpoint], options: ProbeOptions, timeout: int) -> list[str]:
    """Background RDMA servers, one ib_write_bw and one rping per rail, listening until a
    client came or `timeout` seconds passed."""
    lines = []
    for endpoint in endpoints:
        if endpoint.rdma is None:
            continue
        bw = options.bw_args(endpoint.rail, endpoint.rdma, endpoint.gpu)
        rping = ["rping", "-s", "-a", ipv4(endpoint.ip), "-p", str(RPING_PORT + endpoint.rail),
                 "-C", "3"]  # fmt: skip
        lines.append(f"timeout {int(timeout)} {_quote(bw)} >/dev/null 2>&1 &")
        lines.append(f"timeout {int(timeout)} {_quote(rping)} >/dev/null 2>&1 &")
    return lines


def sweep_command(
    endpoints: dict[int, RailEndpoint],
    sweep: Sweep,
    options: ProbeOptions,
    servers: list[RailEndpoint] | None = None,
    server_timeout: int = 0,
) -> list[str]:
    lines = []
    for rail in sorted(sweep.icmp):
        interface = ifname(endpoints[rail].interface)
        lines.append(f"echo @icmp {rail} {interface}")
        lines += _ping_loops(options.ping_args(interface), sweep.icmp[rail], options.ping_parallel)
    for rail in sorted(sweep.mtu):
        size, targets = sweep.mtu[rail]
        interface = ifname(endpoints[rail].interface)
        lines.append(f"echo @mtu {rail} {interface} {int(size)}")
        prefix = [*options.ping_args(interface), "-M", "do", "-s", str(int(size))]
        lines += _ping_loops(prefix, targets, options.ping_parallel)
    for rail in sorted(sweep.cross):
        interface = ifname(endpoints[rail].interface)
        lines.append(f"echo @cross {rail} {interface}")
        lines += _ping_loops(options.ping_args(interface), sweep.cross[rail], options.ping_parallel)
    if servers:
        lines += server_lines(servers, options, server_timeout)
    return ["sh", "-c", "\n".join(lines)]


def servers_command(servers: list[RailEndpoint], options: ProbeOptions, timeout: int) -> list[str]:
    return ["sh", "-c", "\n".join(server_lines(servers, options, timeout))]


def clients_command(pairs: list[tuple[RailEndpoint, str]], options: ProbeOptions) -> list[str]:
    """Per rail, rping then ib_write_bw from this node's endpoint to the peer's address."""
    lines = []
    limit = int(options.tool_timeout)
    for endpoint, peer in pairs:
        if endpoint.rdma is None:
            continue
        peer = ipv4(peer)
        rping = ["rping", "-c", "-a", peer, "-p", str(RPING_PORT + endpoint.rail), "-C", "3", "-v"]
        bw = [*options.bw_args(endpoint.rail, endpoint.rdma, endpoint.gpu), peer]
        lines += [
            f"echo @rping {endpoint.rail} {peer}",
            f"timeout {limit} {_quote(rping)} 2>&1",
            "echo @exit $?",
            f"echo @bw {endpoint.rail} {peer}",
            f"timeout {limit} {_quote(bw)} 2>&1",
            "echo @exit $?",
        ]
    return ["sh", "-c", "\n".join(lines)]


def qos_command(endpoints: list[RailEndpoint]) -> list[str]:
    lines = []
    for endpoint in endpoints:
        interface = ifname(endpoint.interface)
        lines += [f"echo @qos {endpoint.rail} {interface}", f"mlnx_qos -i {interface} 2>&1",
                  "echo @exit $?"]  # fmt: skip
    return ["sh", "-c", "\n".join(lines)]


def sweep_seconds(sweep: Sweep, options: ProbeOptions) -> float:
    """How long a node's sweep may take on a real cluster (each chunk waits for its slowest
    ping), for the exec's timeout."""
    chunks = 0
    for targets in [
        *sweep.icmp.values(),
        *(t for _, t in sweep.mtu.values()),
        *sweep.cross.values(),
    ]:
        chunks += -(-len(targets) // max(options.ping_parallel, 1))
    return chunks * (options.ping_deadline + 1) + 10


def clients_seconds(rails: int, options: ProbeOptions) -> float:
    return rails * 2 * (options.tool_timeout + 1) + 10
