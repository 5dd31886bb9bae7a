"""A running pod's rail interfaces against the plan: missing, in the wrong subnet, excluded,
outside the pod range, duplicated or misnamed."""

from __future__ import annotations

from clusters.diagnose.base import names_text, new_diagnosis
from clusters.diagnose.sandbox import same_network
from clusters.inspect import (
    DUPLICATE,
    EXCLUDED,
    MISSING,
    OUTSIDE_RANGE,
    WRONG_NAME,
    WRONG_SUBNET,
    Context,
    InterfaceReport,
    PodView,
)
from planner import ipam
from planner.findings import Finding


def interface_findings(
    view: PodView, context: Context, interfaces: list[InterfaceReport]
) -> list[Finding]:
    found = []
    for item in interfaces:
        for problem in item.problems:
            rule = _INTERFACE_RULES.get(problem)
            if rule is not None:
                found.append(rule(view, context, item))
    return found


def _rail_label(item: InterfaceReport) -> str:
    if item.rail is None:
        return f"{item.name} ({item.network})"
    return f"{item.name} (rail {item.rail}, {item.nad})"


def _nad_range(context: Context, item: InterfaceReport) -> tuple[list[str], list[str]] | None:
    if context.nads is None:
        return None
    namespace, _, name = item.network.rpartition("/")
    info = context.nads.get(namespace or None, name)
    if info is None:
        return None
    return info.ranges, [str(text) for text in info.ipam.get("exclude") or []]


def _missing(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    if not view.status_present:
        why = (
            "the pod has no network-status annotation at all: Multus did not set up its networks "
            "(a Multus system namespace such as kube-system, or Multus is not the node's primary "
            "CNI), or something removed the annotation"
        )
    else:
        why = (
            "Multus attached the pod's other networks but not this one: the networks "
            "annotation changed after the pod started (Multus reads it only when the sandbox is "
            "created)"
        )
    return new_diagnosis(
        "INTERFACE_MISSING",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} is not on the pod: {why}.",
        "Recreate the pod (delete it; its controller makes a new one) and check that the "
        "networks annotation names the NAD.",
        evidence=f"network-status has no {item.network} entry",
    )


def _wrong_subnet(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    nad = _nad_range(context, item)
    address = item.ip or "no address"
    if nad and nad[0] and item.subnet and not any(same_network(r, item.subnet) for r in nad[0]):
        why = (
            f"the cluster's NAD {item.nad} allocates from {', '.join(nad[0])} while the plan says "
            f"{item.subnet}: the plan changed and was not rolled out, or the NAD was edited by hand"
        )
        fix = f"Roll out the plan, then recreate the pod to get an address in {item.subnet}."
    elif nad and nad[0]:
        why = (
            "the NAD allocates from the right range, so the address was requested statically "
            '("ips" in the networks annotation) or the pod predates the last rollout'
        )
        fix = "Remove static ips from the annotation, or recreate the pod."
    else:
        why = "compare the NAD's ipam range with the plan (NADs were not given)"
        fix = f"Make the NAD's whereabouts range {item.subnet}, roll out, and recreate the pod."
    return new_diagnosis(
        "INTERFACE_WRONG_SUBNET",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {address}, outside the rail's subnet {item.subnet}; peers on "
        f"rail {item.rail} cannot reach it: {why}.",
        fix,
        evidence=f"network-status {item.network}: interface {item.name}, ips {item.ips}",
    )


def _excluding_entry(entries: list[str], ip: str | None) -> str | None:
    """The entry of a NAD's whereabouts exclude list that holds `ip`, if any."""
    if not ip:
        return None
    try:
        address = ipam.ip_to_int(ip)
    except (OSError, ValueError):
        return None
    for entry in entries:
        try:  # whereabouts reads an entry as Go's net.ParseCIDR does: host bits are ignored
            network = ipam.parse_network(entry, strict=False)
        except ipam.AddressError:
            continue
        if network.first <= address <= network.last:
            return entry
    return None


def _excluded(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    nad = _nad_range(context, item)
    covering = _excluding_entry(nad[1], item.ip) if nad is not None else None
    fix = (
        "Roll out the plan so whereabouts skips the exclusion, then recreate the pod for a new "
        "address."
    )
    if covering:
        why = (
            f"the cluster's NAD {item.nad} already excludes it ({covering}), so the exclusion "
            "was rolled out after the pod got this address; whereabouts never moves a running "
            "pod's address"
        )
        fix = "Recreate the pod to get an address outside the exclusion; nothing to roll out."
    elif nad is not None:
        listed = ", ".join(nad[1])
        why = (
            f"the cluster's NAD {item.nad} does not exclude it "
            f"({f'its exclude list is {listed}' if listed else 'it excludes nothing'}): "
            "the plan's exclusion has not been rolled out to this cluster"
        )
    else:
        why = "the NAD's exclude list lacks it, or the pod got the address before it was added"
    return new_diagnosis(
        "INTERFACE_EXCLUDED_ADDRESS",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {item.ip}, which the plan excludes ({item.exclusion}); it may "
        f"collide with infrastructure on the rail: {why}.",
        fix,
        evidence=f"network-status {item.network}: interface {item.name}, ips {item.ips}",
    )


def _outside_range(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    return new_diagnosis(
        "INTERFACE_OUTSIDE_RANGE",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {item.ip}, inside {item.subnet} but outside the plan's pod "
        "range (range_start/range_end): addresses there are meant for hosts or later use.",
        "Roll out the plan's range_start/range_end, then recreate the pod.",
        evidence=f"network-status {item.network}: interface {item.name}, ips {item.ips}",
    )


def _duplicate(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    shared = item.shared_with
    return new_diagnosis(
        "INTERFACE_DUPLICATE_IP",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {item.ip}, which {names_text(shared, 3)} also hold(s): RDMA "
        "traffic for that address reaches either pod. Whereabouts handed it out twice (its "
        "reconciler freed a live allocation, or a NAD uses host-local IPAM on several nodes).",
        "Delete one of the pods so it gets a fresh address, check the rail's IPPool for the "
        "address's podref, and give every rail NAD whereabouts IPAM.",
        evidence=f"{item.ip} on {view.key} {item.name} and {', '.join(shared)}",
    )


def _wrong_name(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    if item.interface_given:
        cause = f"the networks annotation names it {item.name}"
    else:
        cause = (
            "the attachment names no interface, so Multus called it by position (net1, net2, ...)"
        )
    return new_diagnosis(
        "INTERFACE_WRONG_NAME",
        view,
        f"interfaces.{item.name}",
        f"Rail {item.rail} ({item.nad}) is {item.name} in the pod; the plan calls it "
        f"{item.planned_name}, so NCCL_SOCKET_IFNAME / NCCL_IB_HCA settings written for the "
        f"plan pick the wrong rail: {cause}.",
        f'Give the attachment "interface": "{item.planned_name}" (or {item.nad}@'
        f"{item.planned_name} in the comma form) and recreate the pod.",
        evidence=f"network-status {item.network}: interface {item.name}",
    )


_INTERFACE_RULES = {
    MISSING: _missing,
    WRONG_SUBNET: _wrong_subnet,
    EXCLUDED: _excluded,
    OUTSIDE_RANGE: _outside_range,
    DUPLICATE: _duplicate,
    WRONG_NAME: _wrong_name,
}
