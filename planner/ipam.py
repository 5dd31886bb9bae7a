"""Address arithmetic for rails, on ranges, never on single addresses.

A rail's space is a list of disjoint, sorted, inclusive integer intervals (`Span`s). A /8 with
10,000 exclusions is 10,001 spans, not 16 million addresses. netaddr parses and formats;
the set algebra here is a linear merge over sorted spans.

Whereabouts counts a pod range as network+1 .. broadcast-1, clipped to range_start/range_end
(which it silently ignores when they fall outside that), minus `exclude`. /31 and /32 (and IPv6
/127, /128) have no usable address for it.
"""

from __future__ import annotations

import heapq
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import netaddr

Span = tuple[int, int]  # inclusive bounds


class AddressError(ValueError):
    """A value that is not a valid address, network or range; the message says why."""


# ---------------------------------------------------------------------------------------------
# Parsing and formatting


def parse_ip(value: str) -> netaddr.IPAddress:
    try:
        return netaddr.IPAddress(str(value).strip(), flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AddressError(f"'{value}' is not a valid IP address.") from None


def parse_network(value: str, *, strict: bool = True) -> netaddr.IPNetwork:
    """A CIDR such as 10.50.0.0/16. With strict, host bits set is an error, as it is for a subnet."""
    text = str(value).strip()
    if "/" not in text:
        raise AddressError(f"'{value}' is not a CIDR: give a prefix length, e.g. 10.50.0.0/16.")
    try:
        network = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AddressError(f"'{value}' is not a valid CIDR.") from None
    if strict and network.ip != network.network:
        raise AddressError(
            f"'{value}' has host bits set; the network is {network.network}/{network.prefixlen}."
        )
    return network


def ip_to_int(value: str) -> int:
    """Fast path for trusted, already-validated text (addresses stored by this app)."""
    text = value.strip()
    if ":" in text:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    return int.from_bytes(socket.inet_aton(text), "big")


def v4_int(value: str | None) -> int | None:
    """An IPv4 address as the integer the database stores beside it; None for IPv6 or none."""
    if not value or ":" in value:
        return None
    return int.from_bytes(socket.inet_aton(value.strip()), "big")


def int_to_ip(value: int, version: int = 4) -> str:
    if version == 4:
        return socket.inet_ntoa(value.to_bytes(4, "big"))
    return str(netaddr.IPAddress(value, version))


def span_of(value: str) -> Span:
    """A CIDR, an 'A-B' range or a single address as a span."""
    text = str(value).strip()
    if "-" in text:
        start, _, end = text.partition("-")
        return range_span(start, end)
    if "/" in text:
        network = parse_network(text)
        return int(network.first), int(network.last)
    ip = int(parse_ip(text))
    return ip, ip


def range_span(start: str, end: str) -> Span:
    first, last = parse_ip(start), parse_ip(end)
    if first.version != last.version:
        raise AddressError(f"'{start}' and '{end}' are of different IP versions.")
    if int(first) > int(last):
        raise AddressError(f"The range starts at {start}, after its end {end}.")
    return int(first), int(last)


def span_to_cidrs(span: Span, version: int = 4) -> list[str]:
    """The minimal list of CIDRs covering exactly the span (how whereabouts `exclude` wants it)."""
    first, last = netaddr.IPAddress(span[0], version), netaddr.IPAddress(span[1], version)
    return [str(cidr) for cidr in netaddr.iprange_to_cidrs(first, last)]


def span_text(span: Span, version: int = 4) -> str:
    if span[0] == span[1]:
        return int_to_ip(span[0], version)
    return f"{int_to_ip(span[0], version)}-{int_to_ip(span[1], version)}"


# ---------------------------------------------------------------------------------------------
# Span algebra (inputs may be unsorted and overlapping; outputs are sorted and disjoint)


def normalize(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def subtract(base: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    result: list[Span] = []
    holes = normalize(minus)
    hole_index = 0
    for first, last in normalize(base):
        cursor = first
        while hole_index < len(holes) and holes[hole_index][1] < cursor:
            hole_index += 1
        index = hole_index
        while index < len(holes) and holes[index][0] <= last:
            hole_first, hole_last = holes[index]
            if hole_first > cursor:
                result.append((cursor, hole_first - 1))
            cursor = max(cursor, hole_last + 1)
            if cursor > last:
                break
            index += 1
        if cursor <= last:
            result.append((cursor, last))
    return result


def intersect(left: Iterable[Span], right: Iterable[Span]) -> list[Span]:
    a, b = normalize(left), normalize(right)
    result: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        first, last = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if first <= last:
            result.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def size(spans: Iterable[Span]) -> int:
    return sum(last - first + 1 for first, last in spans)


def overlaps(left: Span, right: Span) -> bool:
    return left[0] <= right[1] and right[0] <= left[1]


def contains(outer: Span, inner: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def spans_from_ips(ints: Iterable[int]) -> list[Span]:
    """Runs of consecutive addresses (host IPs allocated in bulk come in long runs)."""
    return normalize((ip, ip) for ip in ints)


# ---------------------------------------------------------------------------------------------
# Rails


def usable_span(subnet: str, range_start: str | None = None, range_end: str | None = None):
    """The span whereabouts allocates from, or None when the subnet has no usable address."""
    network = parse_network(subnet)
    if network.size <= 2:
        return None
    first, last = int(network.first) + 1, int(network.last) - 1
    if range_start:
        start = int(parse_ip(range_start))
        if first <= start <= last:
            first = start
    if range_end:
        end = int(parse_ip(range_end))
        if first <= end <= last:
            last = end
    if first > last:
        return None
    return first, last


def v4_usable_span(subnet: str, range_start: str | None, range_end: str | None) -> Span | None:
    """usable_span for an IPv4 subnet; None for IPv6 or a subnet that cannot be read."""
    if ":" in str(subnet):
        return None
    try:
        return usable_span(subnet, range_start, range_end)
    except AddressError:
        return None


@dataclass(frozen=True)
class RailUsage:
    """Whereabouts' view of one rail: usable = excluded + host_assigned + free."""

    subnet: str
    size: int
    usable: int
    excluded: int
    host_assigned: int
    free: int

    @property
    def used(self) -> int:
        return self.usable - self.free

    @property
    def utilization(self) -> float:
        """Percent of usable pod addresses not free, rounded to 2 places."""
        return round(100.0 * self.used / self.usable, 2) if self.usable else 100.0

    def to_dict(self) -> dict:
        return {
            "subnet": self.subnet,
            "size": self.size,
            "usable": self.usable,
            "excluded": self.excluded,
            "host_assigned": self.host_assigned,
            "free": self.free,
            "used": self.used,
            "utilization": self.utilization,
        }


@dataclass(frozen=True)
class RailSpace:
    """A rail's address space, ready for questions. Build with `RailSpace.build`."""

    subnet: str
    version: int
    subnet_span: Span
    usable: Span | None
    exclusions: list[Span]
    hosts: list[Span]

    @classmethod
    def build(
        cls,
        subnet: str,
        exclusions: Iterable[Span] = (),
        host_ips: Iterable[int] = (),
        range_start: str | None = None,
        range_end: str | None = None,
    ) -> RailSpace:
        network = parse_network(subnet)
        return cls(
            subnet=str(network),
            version=network.version,
            subnet_span=(int(network.first), int(network.last)),
            usable=usable_span(subnet, range_start, range_end),
            exclusions=normalize(exclusions),
            hosts=spans_from_ips(host_ips),
        )

    def _free(self):
        """Free spans in order, lazily: the first few cost nothing however many exclusions."""
        if self.usable is None:
            return
        cursor, last = self.usable
        for first, end in heapq.merge(self.exclusions, self.hosts):
            if end < cursor:
                continue
            if first > last:
                break
            if first > cursor:
                yield cursor, first - 1
            cursor = max(cursor, end + 1)
            if cursor > last:
                return
        if cursor <= last:
            yield cursor, last

    def free_spans(self) -> list[Span]:
        """Addresses a pod or a new host could get: usable minus exclusions minus host IPs."""
        return list(self._free())

    def usage(self) -> RailUsage:
        usable = [self.usable] if self.usable else []
        excluded = size(intersect(usable, self.exclusions))
        hosts = size(subtract(intersect(usable, self.hosts), self.exclusions))
        total = size(usable)
        return RailUsage(
            subnet=self.subnet,
            size=self.subnet_span[1] - self.subnet_span[0] + 1,
            usable=total,
            excluded=excluded,
            host_assigned=hosts,
            free=total - excluded - hosts,
        )

    def first_free(self, count: int) -> list[Span]:
        """The lowest `count` free addresses, as spans (NetBox's available-ips)."""
        taken: list[Span] = []
        remaining = count
        for first, last in self._free():
            if remaining <= 0:
                break
            end = min(last, first + remaining - 1)
            taken.append((first, end))
            remaining -= end - first + 1
        return taken

    def next_free_prefix(self, prefix_length: int) -> str | None:
        """The lowest aligned block of that length wholly free of exclusions and host IPs.

        Network and broadcast addresses may fall inside it: the block is meant to be excluded.
        """
        max_length = 32 if self.version == 4 else 128
        block = 1 << (max_length - prefix_length)
        free = subtract(subtract([self.subnet_span], self.exclusions), self.hosts)
        for first, last in free:
            aligned = (first + block - 1) // block * block
            if aligned + block - 1 <= last:
                return f"{int_to_ip(aligned, self.version)}/{prefix_length}"
        return None


def usage_from_counts(
    subnet: str,
    exclusions: Iterable[Span],
    host_count: int,
    range_start: str | None = None,
    range_end: str | None = None,
) -> RailUsage:
    """RailUsage when host IPs are known only by count. Exact while the planner's invariant
    holds: every host IP lies in the usable span and outside every exclusion."""
    network = parse_network(subnet)
    usable_one = usable_span(subnet, range_start, range_end)
    usable = [usable_one] if usable_one else []
    total = size(usable)
    excluded = size(intersect(usable, exclusions))
    return RailUsage(
        subnet=str(network),
        size=int(network.size),
        usable=total,
        excluded=excluded,
        host_assigned=host_count,
        free=total - excluded - host_count,
    )


def expand(spans: Iterable[Span], version: int = 4) -> list[str]:
    """Addresses of spans the caller has already bounded (e.g. `first_free(n)`)."""
    return [int_to_ip(ip, version) for first, last in spans for ip in range(first, last + 1)]


def spans_as_text(spans: Iterable[Span], version: int = 4) -> list[dict]:
    return [
        {
            "start": int_to_ip(first, version),
            "end": int_to_ip(last, version),
            "size": last - first + 1,
        }
        for first, last in spans
    ]


# ---------------------------------------------------------------------------------------------
# Carving rails from a supernet


def carve(supernet: str, prefix_length: int, count: int) -> list[str]:
    """Consecutive subnets: 10.50.0.0/13 by /16 x 8 -> 10.50.0.0/16 .. 10.57.0.0/16.

    The supernet is read as "a block of that size starting at that address", so the common
    way of writing the seed's plan (10.50.0.0/13, not aligned to /13) works; the start must
    still be aligned to the rail prefix length.
    """
    network = parse_network(supernet, strict=False)
    max_length = 32 if network.version == 4 else 128
    if not network.prefixlen <= prefix_length <= max_length:
        raise AddressError(
            f"A /{prefix_length} rail cannot be carved from {supernet}: "
            f"the prefix length must be between {network.prefixlen} and {max_length}."
        )
    block = 1 << (max_length - prefix_length)
    start = int(network.ip)
    if start % block:
        raise AddressError(
            f"{supernet} does not start on a /{prefix_length} boundary; "
            f"the nearest is {int_to_ip(start // block * block, network.version)}."
        )
    available = 1 << (prefix_length - network.prefixlen)
    if count > available:
        raise AddressError(
            f"{supernet} holds only {available} /{prefix_length} subnets, not {count}."
        )
    if start + count * block - 1 > (1 << max_length) - 1:
        raise AddressError(
            f"{count} /{prefix_length} subnets from {supernet} run past the end of the address space."
        )
    return [
        f"{int_to_ip(start + index * block, network.version)}/{prefix_length}"
        for index in range(count)
    ]


@dataclass(frozen=True)
class CarveReading:
    """What `carve` makes of a supernet, in words a person can check before creating rails."""

    supernet: str
    subnets: list[str]
    first: str  # the first and last address carved
    last: str
    size: int  # addresses carved
    network: str  # the real network of the supernet's prefix (host bits cleared)
    aligned: bool  # the supernet is that network
    outside: str  # the carved range outside `network`, as "A – B", or ""

    @property
    def summary(self) -> str:
        count, length = len(self.subnets), self.subnets[0].rsplit("/", 1)[1]
        rails = f"{count} × /{length}" if count > 1 else f"one /{length}"
        return f"{rails}: {self.first} – {self.last} ({self.size:,} addresses)"

    @property
    def note(self) -> str:
        """How an unaligned supernet is read; empty when there is nothing to explain."""
        if self.aligned:
            return ""
        note = (
            f"{self.supernet} is not a network boundary: the /{self.supernet.rsplit('/', 1)[1]} "
            f"holding {self.supernet.split('/')[0]} is {self.network}. Rail Studio reads a "
            f"supernet as a start address and a size, so the rails start at {self.first}"
        )
        if self.outside:
            note += f", and {self.outside} lies outside {self.network}"
        return note + "."


def read_carve(supernet: str, prefix_length: int, count: int) -> CarveReading:
    """`carve`, with what a person needs to check it (AddressError as carve raises it)."""
    subnets = carve(supernet, prefix_length, count)
    given = parse_network(supernet, strict=False)
    real = given.cidr
    first = int(parse_network(subnets[0]).first)
    last = int(parse_network(subnets[-1]).last)
    beyond = subtract([(first, last)], [(int(real.first), int(real.last))])
    version = given.version
    return CarveReading(
        supernet=str(supernet).strip(),
        subnets=subnets,
        first=int_to_ip(first, version),
        last=int_to_ip(last, version),
        size=last - first + 1,
        network=str(real),
        aligned=given.ip == real.network,
        outside=", ".join(
            f"{int_to_ip(low, version)} – {int_to_ip(high, version)}" for low, high in beyond
        ),
    )


def snap_span(first: int, last: int, within: Span) -> Span:
    """Widen a dragged span to CIDR boundaries: both ends aligned to the largest power-of-two
    block that fits in the drag, clipped to `within` (the rail subnet)."""
    first, last = min(first, last), max(first, last)
    block = 1 << ((last - first + 1).bit_length() - 1)
    start = first // block * block
    end = (last // block + 1) * block - 1
    return max(start, within[0]), min(end, within[1])
