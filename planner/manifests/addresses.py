"""A rail's addresses as rendered: exclusions (host IPs included), and the IP preview."""

from __future__ import annotations

import netaddr

from planner import ipam
from planner.manifests.common import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MAX_IP_PREVIEW,
    PLAN_LABEL,
    ManifestError,
)
from planner.planspec import PlanSpec, RailSpec


def _host_prefix(version: int) -> int:
    return 32 if version == 4 else 128


def rail_exclusions(rail: RailSpec) -> list[str]:
    """The whereabouts `exclude` list: the rail's exclusions as minimal CIDRs, plus the gateway
    when it lies in the pod range and no exclusion covers it (whereabouts does not skip it)."""
    try:
        return _rail_exclusions(rail)
    except (netaddr.AddrFormatError, ValueError) as error:
        raise ManifestError(f"rail {rail.index}: {error}") from None


def _rail_exclusions(rail: RailSpec) -> list[str]:
    network = netaddr.IPNetwork(rail.subnet)
    version = network.version
    cidrs: list[str] = []
    for exclusion in rail.exclusions:
        if exclusion.cidr:
            text = (
                exclusion.cidr
                if "/" in exclusion.cidr
                else f"{exclusion.cidr}/{_host_prefix(version)}"
            )
            cidrs.append(str(netaddr.IPNetwork(text).cidr))
        elif exclusion.start:
            span = ipam.range_span(exclusion.start, exclusion.end or exclusion.start)
            cidrs.extend(ipam.span_to_cidrs(span, version))
    if rail.gateway:
        gateway = int(ipam.parse_ip(rail.gateway))
        usable = ipam.usable_span(str(network.cidr), rail.range_start, rail.range_end)
        covered = any(ipam.contains(ipam.span_of(cidr), (gateway, gateway)) for cidr in cidrs)
        if usable and ipam.contains(usable, (gateway, gateway)) and not covered:
            cidrs.append(f"{rail.gateway}/{_host_prefix(version)}")
    return list(dict.fromkeys(cidrs))


def _rail_space(rail: RailSpec) -> ipam.RailSpace:
    exclusions = [ipam.span_of(cidr) for cidr in rail_exclusions(rail)]
    return ipam.RailSpace.build(
        str(netaddr.IPNetwork(rail.subnet).cidr),
        exclusions=exclusions,
        range_start=rail.range_start,
        range_end=rail.range_end,
    )


def ip_preview(plan: PlanSpec, count: int) -> dict[int, list[str]]:
    """What whereabouts gives the first `count` pods on each rail: the lowest free addresses of
    the range (range_start .. range_end, network+1 .. broadcast-1), skipping the exclusions."""
    if not 0 <= count <= MAX_IP_PREVIEW:
        raise ManifestError(f"the preview covers 0 to {MAX_IP_PREVIEW} pods, not {count}")
    preview = {}
    for rail in sorted(plan.rails, key=lambda item: item.index):
        space = _rail_space(rail)
        preview[rail.index] = ipam.expand(space.first_free(count), space.version)
    return preview


def plan_labels(plan: PlanSpec) -> dict:
    return {MANAGED_BY_LABEL: MANAGED_BY, PLAN_LABEL: plan.slug}
