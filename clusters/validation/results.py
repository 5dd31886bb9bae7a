"""Per-rail result matrices from parsed probe output, in the compact form a run stores and the
API returns. Pure.

Per rail: `status` is N strings of N characters (row: the pinging node, column: the pinged one;
each unordered pair was pinged once and both cells carry the result):
    "-" the node itself, "." not tested, "o" every echo answered, "p" some lost,
    "x" no answer, "u" unreachable (the sender's ARP went unanswered or its link is down)
`rtt_us` is N lists of the average RTT in microseconds (None where nothing answered); `loss`
keeps partial losses {"i,j": percent}; `rdma` lists each RDMA test (client, server, Gb/s or
the error, whether rping connected); `mtu` (strict) has its own status rows for pings with DF
at the rail's MTU; `cross` (strict) lists pings from this rail's interface into another rail's
subnet.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusters.validation.parsers import BandwidthResult, PingResult

OK, PARTIAL, LOST, UNREACHABLE, UNTESTED, SELF = "o", "p", "x", "u", ".", "-"


def ping_status(result: PingResult | None) -> str:
    if result is None:
        return UNTESTED
    if result.received >= result.transmitted > 0:
        return OK
    if result.received > 0:
        return PARTIAL
    return UNREACHABLE if result.errors else LOST


@dataclass(frozen=True)
class RdmaTest:
    client: int
    server: int
    rping_ok: bool | None
    rping_detail: str
    bandwidth: BandwidthResult | None

    def as_dict(self) -> dict:
        bw = self.bandwidth
        return {
            "client": self.client,
            "server": self.server,
            "gbps": round(bw.gbps, 2) if bw and bw.gbps is not None else None,
            "error": (bw.error if bw else "not run") or "",
            "timed_out": bool(bw and bw.timed_out),
            "rping": self.rping_ok,
            "rping_detail": self.rping_detail,
        }


def status_rows(
    count: int, results: dict[tuple[int, int], PingResult]
) -> tuple[list[str], list[list[int | None]], dict[str, float]]:
    cells = [[UNTESTED] * count for _ in range(count)]
    rtts: list[list[int | None]] = [[None] * count for _ in range(count)]
    partial: dict[str, float] = {}
    for index in range(count):
        cells[index][index] = SELF
    for (i, j), result in results.items():
        status = ping_status(result)
        rtt = round(result.rtt_avg * 1000) if result.rtt_avg is not None else None
        for a, b in ((i, j), (j, i)):
            cells[a][b] = status
            rtts[a][b] = rtt
            if status == PARTIAL:
                partial[f"{a},{b}"] = round(result.loss, 1)
    return ["".join(row) for row in cells], rtts, partial


def rail_data(
    *,
    rail: int,
    nad: str,
    interface: str,
    subnet: str,
    tests: list[str],
    addresses: list[str | None],
    icmp: dict[tuple[int, int], PingResult],
    rdma: list[RdmaTest],
    mtu: tuple[int, dict[tuple[int, int], PingResult]] | None = None,
    cross: list[dict] | None = None,
    line_rate_gbps: float | None = None,
) -> dict:
    count = len(addresses)
    status, rtt_us, partial = status_rows(count, icmp)
    data = {
        "rail": rail,
        "nad": nad,
        "interface": interface,
        "subnet": subnet,
        "tests": tests,
        "addresses": addresses,
        "status": status,
        "rtt_us": rtt_us,
        "loss": partial,
        "rdma": [test.as_dict() for test in rdma],
        "line_rate_gbps": line_rate_gbps,
        "mtu": None,
        "cross": cross or [],
    }
    if mtu is not None:
        size, results = mtu
        data["mtu"] = {"size": size, "status": status_rows(count, results)[0]}
    return data


def pair_failures(status: list[str]) -> dict[int, tuple[int, int]]:
    """{node: (tested pairs, failed pairs)} over a status matrix's unordered pairs."""
    counts = {i: [0, 0] for i in range(len(status))}
    for i, row in enumerate(status):
        for j in range(i + 1, len(row)):
            cell = row[j]
            if cell in (UNTESTED, SELF):
                continue
            failed = cell in (LOST, UNREACHABLE)
            for node in (i, j):
                counts[node][0] += 1
                counts[node][1] += failed
    return {node: (tested, failed) for node, (tested, failed) in counts.items()}
