"""Address pools (whereabouts ranges), shared by NAD objects and plan rails: their shape, capacity
and overlaps."""

from __future__ import annotations

from dataclasses import dataclass, field

import netaddr

from planner import ipam
from planner.findings import Finding, finding


@dataclass
class Pool:
    ref: str
    fields: dict  # logical name -> field path: range, range_start, range_end, exclude, gateway
    network: netaddr.IPNetwork
    range_start: str | None = None
    range_end: str | None = None
    exclusions: list = field(default_factory=list)  # [(field path, text, span)]
    gateway: str | None = None
    gateway_auto_excluded: bool = False
    planned_pods: int | None = None
    key: tuple | None = None  # identity: pools of the same network are not overlaps

    @property
    def span(self) -> ipam.Span:
        return int(self.network.first), int(self.network.last)


def span_of_exclusion(text: str, version: int) -> ipam.Span:
    text = str(text).strip()
    if "/" in text:
        network = netaddr.IPNetwork(text)
        return int(network.first), int(network.last)
    return ipam.span_of(text)


def check_pool(pool: Pool) -> list[Finding]:
    found = []
    network = pool.network
    if network.size <= 2:
        found.append(
            finding(
                "RANGE_PREFIX_TOO_LONG",
                pool.ref,
                pool.fields["range"],
                f"{network} has no address whereabouts can give: it hands out network+1 .. "
                'broadcast-1 and rejects /31 and /32 with "no usable IP addresses".',
                "Use a /30 or wider range (or nvidia-k8s-ipam's CIDRPool for /31 "
                "point-to-point rails).",
            )
        )
        return found
    usable = (int(network.first) + 1, int(network.last) - 1)
    found += _bounds_findings(pool, usable)
    found += _exclusion_findings(pool)
    if pool.gateway:
        found += _gateway_findings(pool, usable)
    found.extend(check_capacity(pool))
    return found


def _bounds_findings(pool: Pool, usable: ipam.Span) -> list[Finding]:
    found = []
    network = pool.network
    for bound in ("range_start", "range_end"):
        value = getattr(pool, bound)
        if not value:
            continue
        ip = int(ipam.parse_ip(value))
        if not ipam.contains(usable, (ip, ip)):
            found.append(
                finding(
                    "RANGE_BOUNDS_IGNORED",
                    pool.ref,
                    pool.fields[bound],
                    f"{bound} {value} lies outside the usable addresses of {network}; "
                    "whereabouts silently ignores it.",
                    f"Set {bound} inside {network}, or drop it.",
                )
            )
    return found


def _exclusion_findings(pool: Pool) -> list[Finding]:
    found = []
    network = pool.network
    for field_path, text, span in pool.exclusions:
        if not ipam.contains(pool.span, span):
            found.append(
                finding(
                    "EXCLUSION_OUTSIDE_RANGE",
                    pool.ref,
                    field_path,
                    f"The exclusion {text} is not inside {network}; whereabouts does not "
                    "check this, so it protects nothing.",
                    f"Correct the exclusion to addresses inside {network}, or remove it.",
                )
            )
    return found


def _gateway_findings(pool: Pool, usable: ipam.Span) -> list[Finding]:
    found = []
    network, version = pool.network, pool.network.version
    gateway = int(ipam.parse_ip(pool.gateway))
    start, end = ipam.usable_span(str(network.cidr), pool.range_start, pool.range_end) or usable
    covered = any(ipam.contains(span, (gateway, gateway)) for _, _, span in pool.exclusions)
    if not ipam.contains(pool.span, (gateway, gateway)):
        found.append(
            finding(
                "GATEWAY_OUTSIDE_SUBNET",
                pool.ref,
                pool.fields["gateway"],
                f"The gateway {pool.gateway} is outside {network}; pods cannot reach it.",
                f"Use a gateway inside {network}.",
            )
        )
    elif start <= gateway <= end and not covered and not pool.gateway_auto_excluded:
        found.append(
            finding(
                "GATEWAY_NOT_EXCLUDED",
                pool.ref,
                pool.fields["gateway"],
                f"The gateway {pool.gateway} lies in the pod range and is not excluded; "
                "whereabouts does not skip it and will give it to a pod.",
                f'Add "{pool.gateway}/{32 if version == 4 else 128}" to exclude, or start '
                "the range after the gateway.",
            )
        )
    return found


def check_capacity(pool: Pool) -> list[Finding]:
    found = []
    network = pool.network
    if pool.planned_pods and network.size > 2:
        exclusions = [span for _, _, span in pool.exclusions]
        if pool.gateway and pool.gateway_auto_excluded:
            gateway = int(ipam.parse_ip(pool.gateway))
            exclusions.append((gateway, gateway))
        space = ipam.RailSpace.build(
            str(network.cidr), exclusions, range_start=pool.range_start, range_end=pool.range_end
        )
        free = ipam.size(space.free_spans())
        if free < pool.planned_pods:
            found.append(
                finding(
                    "POD_RANGE_TOO_SMALL",
                    pool.ref,
                    pool.fields["range"],
                    f"The pod range of {network} holds {free} addresses after exclusions, "
                    f"fewer than the {pool.planned_pods} pods planned on it.",
                    "Widen the range or range_start/range_end, or remove exclusions.",
                )
            )
    return found


def check_overlaps(pools: list[Pool], cidrs: dict[str, str | None]) -> list[Finding]:
    found = []
    ordered = sorted(pools, key=lambda pool: pool.span)
    for position, pool in enumerate(ordered):
        for other in ordered[position + 1 :]:
            if other.span[0] > pool.span[1]:
                break
            if pool.key is not None and pool.key == other.key:
                continue
            found.append(
                finding(
                    "RAIL_OVERLAP",
                    other.ref,
                    other.fields["range"],
                    f"{other.network} ({other.ref}) overlaps {pool.network} ({pool.ref}); "
                    "rails must be disjoint for their routes and whereabouts pools.",
                    "Give each rail its own subnet.",
                )
            )
    for label, (code, cidr) in cidrs.items():
        if not cidr:
            continue
        try:
            span = ipam.span_of(str(netaddr.IPNetwork(cidr).cidr))
        except (netaddr.AddrFormatError, ValueError):
            continue
        for pool in pools:
            if ipam.overlaps(pool.span, span):
                found.append(
                    finding(
                        code,
                        pool.ref,
                        pool.fields["range"],
                        f"{pool.network} overlaps the {label} {cidr}; pods would route rail "
                        "traffic to the cluster network, or the reverse.",
                        f"Move the rail out of {cidr}.",
                    )
                )
    return found


def pools_from_ipam(ref: str, prefix: str, ipam_config: dict) -> tuple[list[Pool], list[Finding]]:
    """Pools of a whereabouts ipam block (`range`, and each `ipRanges` entry)."""
    entries = []
    if ipam_config.get("range"):
        entries.append((prefix, ipam_config))
    for position, entry in enumerate(ipam_config.get("ipRanges") or []):
        if isinstance(entry, dict) and entry.get("range"):
            entries.append((f"{prefix}ipRanges[{position}].", entry))
    pools, found = [], []
    for path, entry in entries:
        try:
            pools.append(_pool_from_entry(ref, path, entry, ipam_config.get("gateway"), prefix))
        except (netaddr.AddrFormatError, ValueError, TypeError) as error:
            found.append(
                finding(
                    "IPAM_INVALID",
                    ref,
                    f"{path}range",
                    f"The whereabouts configuration cannot be read: {error}",
                    "Give range as a CIDR (10.50.0.0/16) or A-B/len, and addresses or CIDRs "
                    "in exclude.",
                )
            )
    return pools, found


def _pool_from_entry(ref: str, path: str, entry: dict, gateway, prefix: str) -> Pool:
    text = str(entry["range"]).strip()
    range_start, range_end = entry.get("range_start"), entry.get("range_end")
    if "-" in text:
        first, _, rest = text.partition("-")
        last, _, length = rest.partition("/")
        network = netaddr.IPNetwork(f"{first}/{length}").cidr
        range_start, range_end = range_start or first, range_end or last
    else:
        network = netaddr.IPNetwork(text).cidr
    for value in (range_start, range_end, gateway):
        if value:
            ipam.parse_ip(value)
    exclusions = []
    for position, excluded in enumerate(entry.get("exclude") or []):
        span = span_of_exclusion(excluded, network.version)
        exclusions.append((f"{path}exclude[{position}]", str(excluded), span))
    return Pool(
        ref=ref,
        fields={
            "range": f"{path}range",
            "range_start": f"{path}range_start",
            "range_end": f"{path}range_end",
            "gateway": f"{prefix}gateway",
        },
        network=network,
        range_start=range_start,
        range_end=range_end,
        exclusions=exclusions,
        gateway=gateway if path == prefix else None,
    )
