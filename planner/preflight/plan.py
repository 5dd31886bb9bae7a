"""Plan-level rules: rail pools, names and NIC layout."""

from __future__ import annotations

from collections import Counter

import netaddr

from planner import ipam, manifests
from planner.findings import Finding, finding, sort_findings
from planner.planspec import PlanSpec, RailSpec
from planner.preflight.nads import roce_reminder
from planner.preflight.names import dns_label_finding, ifname_findings, resource_name_findings
from planner.preflight.pools import Pool, check_overlaps, check_pool, span_of_exclusion


def _rail_ref(rail: RailSpec) -> str:
    return f"rail {rail.index} ({rail.nad_name})"


def check_plan(plan: PlanSpec) -> list[Finding]:
    """Plan-level rules: options, names, addresses, overlaps and NIC inventory."""
    found: list[Finding] = []
    plan_ref = f"plan {plan.slug}"
    for problem in manifests.cni_option_errors(plan):
        found.append(
            finding("CNI_OPTION_INVALID", plan_ref, "cni_options", problem, "Correct or remove it.")
        )
    pod_problems = manifests.pod_option_errors(plan)
    for problem in pod_problems:
        found.append(
            finding("POD_OPTION_INVALID", plan_ref, "pod_options", problem, "Correct or remove it.")
        )
    found.append(dns_label_finding(plan_ref, "namespace", plan.namespace, "namespace"))
    rails = sorted(plan.rails, key=lambda rail: rail.index)
    found.extend(_plan_name_findings(rails))
    planned = _planned_pods(plan) if not pod_problems else {}
    pools = []
    for rail in rails:
        if rail.vlan is not None and not 0 <= rail.vlan <= 4094:
            found.append(
                finding(
                    "VLAN_INVALID",
                    _rail_ref(rail),
                    "vlan",
                    f"VLAN {rail.vlan} is outside 0-4094.",
                    "Use a VLAN id from 1 to 4094, or 0 for none.",
                )
            )
        try:
            pool = _rail_pool(rail, planned.get(rail.index))
        except (netaddr.AddrFormatError, ValueError, TypeError) as error:
            found.append(
                finding(
                    "IPAM_INVALID",
                    _rail_ref(rail),
                    "subnet",
                    f"The rail's addresses cannot be read: {error}",
                    "Correct the subnet, range and exclusions.",
                )
            )
            continue
        found.extend(check_pool(pool))
        pools.append(pool)
    cidrs = {
        "pod CIDR": ("RAIL_OVERLAPS_POD_CIDR", plan.pod_cidr),
        "service CIDR": ("RAIL_OVERLAPS_SERVICE_CIDR", plan.service_cidr),
    }
    found.extend(check_overlaps(pools, cidrs))
    found.extend(_nic_findings(plan, rails))
    if plan.cni_type in ("sriov", "macvlan", "host-device") and manifests.link_type(plan) == "eth":
        found.append(roce_reminder(plan_ref, [rail.nad_name for rail in rails]))
    return sort_findings(item for item in found if item is not None)


def _planned_pods(plan: PlanSpec) -> dict[int, int]:
    try:
        options = manifests.PodOptions.build(plan)
        groups = manifests.pod_groups(plan, options)
    except manifests.ManifestError:
        return {}
    pods = options.replicas or len(plan.nodes)
    return {rail.index: pods for group in groups for rail in group.rails}


def _rail_pool(rail: RailSpec, planned_pods: int | None) -> Pool:
    network = netaddr.IPNetwork(rail.subnet).cidr
    for value in (rail.range_start, rail.range_end, rail.gateway):
        if value:
            ipam.parse_ip(value)
    exclusions = []
    for position, exclusion in enumerate(rail.exclusions):
        text = exclusion.cidr or f"{exclusion.start}-{exclusion.end or exclusion.start}"
        if exclusion.cidr:
            span = span_of_exclusion(exclusion.cidr, network.version)
        else:
            span = ipam.range_span(exclusion.start, exclusion.end or exclusion.start)
        exclusions.append((f"exclusions[{position}]", text, span))
    return Pool(
        ref=_rail_ref(rail),
        fields={
            "range": "subnet",
            "range_start": "range_start",
            "range_end": "range_end",
            "gateway": "gateway",
        },
        network=network,
        range_start=rail.range_start,
        range_end=rail.range_end,
        exclusions=exclusions,
        gateway=rail.gateway,
        gateway_auto_excluded=True,
        planned_pods=planned_pods,
        key=("rail", rail.index),
    )


def _plan_name_findings(rails: list[RailSpec]) -> list[Finding]:
    found: list[Finding | None] = []
    nad_names = Counter(rail.nad_name for rail in rails)
    resources = Counter(rail.resource_name for rail in rails if rail.resource_name)
    for rail in rails:
        ref = _rail_ref(rail)
        found.append(dns_label_finding(ref, "nad_name", rail.nad_name, "NAD name"))
        if nad_names[rail.nad_name] > 1:
            found.append(
                finding(
                    "NAD_NAME_DUPLICATE",
                    ref,
                    "nad_name",
                    f"{nad_names[rail.nad_name]} rails share the NAD name {rail.nad_name}.",
                    "Give each rail its own NAD name (the template needs {rail}).",
                )
            )
        if rail.resource_name:
            found.extend(resource_name_findings(ref, "resource_name", rail.resource_name))
            if resources[rail.resource_name] > 1:
                found.append(
                    finding(
                        "RESOURCE_SHARED_BY_RAILS",
                        ref,
                        "resource_name",
                        f"{resources[rail.resource_name]} rails share {rail.resource_name}: a pod "
                        "may get a VF of the wrong rail for an attachment.",
                        "Give each rail its own VF pool (nvidia.com/rail{rail}_vf).",
                    )
                )
    interfaces = [rail.interface_name for rail in rails]
    found.extend(ifname_findings("plan rails", "interface_name", interfaces))
    return [item for item in found if item is not None]


def _nic_findings(plan: PlanSpec, rails: list[RailSpec]) -> list[Finding]:
    if not plan.nodes:
        return []
    with_nic: dict[int, set[str]] = {rail.index: set() for rail in rails}
    vf_counts: dict[int, Counter] = {rail.index: Counter() for rail in rails}
    for node in plan.nodes:  # one pass over every NIC, whatever the number of rails
        for nic in node.nics:
            if nic.rail_index in with_nic:
                with_nic[nic.rail_index].add(node.name)
                vf_counts[nic.rail_index][nic.vf_count] += 1
    found = []
    for rail in rails:
        without = [node.name for node in plan.nodes if node.name not in with_nic[rail.index]]
        if without:
            shown = ", ".join(without[:5]) + (" ..." if len(without) > 5 else "")
            found.append(
                finding(
                    "NIC_MISSING",
                    _rail_ref(rail),
                    "nodes",
                    f"{len(without)} of {len(plan.nodes)} node(s) have no NIC recorded for this "
                    f"rail ({shown}); NUMA checks, NCCL_IB_HCA and node policies skip them.",
                    "Record each node's NIC for the rail (PF name, PCI address, NUMA node).",
                )
            )
        counts = vf_counts[rail.index]
        if len(counts) > 1:
            spread = ", ".join(
                f"{count} VFs on {nodes} node(s)" for count, nodes in sorted(counts.items())
            )
            found.append(
                finding(
                    "NIC_VF_COUNT_UNEVEN",
                    _rail_ref(rail),
                    "nodes",
                    f"Nodes differ in VFs on this rail ({spread}); one node policy sets one "
                    "numVfs for all of them.",
                    "Use the same VF count on every node, or split the nodes into policies.",
                )
            )
    return found
