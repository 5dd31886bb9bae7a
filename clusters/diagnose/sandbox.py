"""The pod sandbox: Multus, SR-IOV CNI and whereabouts errors (NAD not found, no VF, range
exhausted)."""

from __future__ import annotations

import difflib
from collections import defaultdict

from clusters.diagnose.base import (
    EXHAUSTED,
    EXHAUSTED_SHORT,
    NAD_MISSING,
    NETWORK_ERROR,
    NETWORKS_FIELD,
    VF_PCI,
    fmt_amount,
    latest_warning,
    names_text,
    new_diagnosis,
    quote,
)
from clusters.inspect import (
    Context,
    PodView,
)
from planner import ipam
from planner.findings import Finding


def sandbox_findings(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    sandbox = latest_warning(events, "FailedCreatePodSandBox")
    missing_event = latest_warning(events, "NoNetworkFound")
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for event in (missing_event, sandbox):
        if event is None:
            continue
        for name, namespace in NAD_MISSING.findall(event["message"]):
            if (namespace, name) not in seen:
                seen.add((namespace, name))
                found.append(_nad_not_found(view, context, name, namespace, event))
    if sandbox is None:
        return found
    text = sandbox["message"]
    network = NETWORK_ERROR.search(text)
    if VF_PCI in text:
        found.append(
            _vf_pci_required(view, context, network.group(1) if network else None, sandbox)
        )
    if "Could not allocate IP in range" in text:
        found.append(
            _range_exhausted(view, context, network.group(1) if network else None, sandbox)
        )
    return found


def _nad_not_found(
    view: PodView, context: Context, name: str, namespace: str, event: dict
) -> Finding:
    interfaces = [
        item["interface"]
        for item in view.networks
        if item["name"] == name and item["namespace"] == namespace
    ]
    asked = f" (asked for as {', '.join(interfaces)})" if interfaces else ""
    elsewhere = []
    if context.nads is not None:
        candidates, source = context.nads.names_in(namespace), "in the cluster"
        elsewhere = [ns for ns in context.nads.namespaces_of.get(name, []) if ns != namespace]
    else:
        candidates = sorted(context.plan.rail_specs) if context.plan else []
        source = "in the plan"
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if elsewhere:
        hint = f" A NAD {name} exists in namespace {elsewhere[0]}."
        fix = (
            f'Add "namespace": "{elsewhere[0]}" to the attachment, or create {name} in '
            f"{namespace}; then recreate the pod."
        )
    elif close:
        hint = f' Did you mean "{close[0]}"? (the closest NAD name {source})'
        fix = (
            f'Change "{name}" to "{close[0]}" in the networks annotation (it must match the '
            "NAD's metadata.name exactly) and recreate the pod."
        )
    else:
        known = f" NADs {source}: {names_text(candidates)}." if candidates else ""
        hint = known
        fix = (
            f"Create the NAD {name} in {namespace}, or correct the name in the networks "
            "annotation; the kubelet retries the sandbox on its own once it exists."
        )
    return new_diagnosis(
        "NAD_NOT_FOUND",
        view,
        NETWORKS_FIELD,
        f"Multus cannot find the NAD {name} in namespace {namespace}{asked}: the pod stays in "
        f"ContainerCreating and none of its rail interfaces appear.{hint}",
        fix,
        evidence=quote(event),
    )


def _vf_pci_required(view: PodView, context: Context, network: str | None, event: dict) -> Finding:
    by_resource: dict[str, list[str]] = defaultdict(list)
    resource = None
    for item in view.networks:
        item_resource = context.resource_of(item["namespace"], item["name"])
        if item_resource:
            by_resource[item_resource].append(item["interface"])
        if item["name"] == network:
            resource = item_resource
    evidence = quote(event)
    if resource is None:
        return _no_vf_resource(view, context, network, evidence)
    return _too_few_vfs(view, network, resource, by_resource[resource], evidence)


def _no_vf_resource(view: PodView, context: Context, network: str | None, evidence: str):
    """SR-IOV CNI got no VF for a network whose NAD names no resource (or is unknown)."""
    known = context.nads.get(view.namespace, network) if (context.nads and network) else None
    if known is not None:
        return new_diagnosis(
            "NAD_RESOURCE_ANNOTATION_MISSING",
            view,
            NETWORKS_FIELD,
            f"The NAD {network} has no k8s.v1.cni.cncf.io/resourceName annotation, so Multus "
            'passes SR-IOV CNI no VF and it fails with "VF pci addr is required".',
            "Add the annotation k8s.v1.cni.cncf.io/resourceName: <the rail's VF pool, e.g. "
            "nvidia.com/rail0_vf> to the NAD and request that resource in the pod.",
            evidence=evidence,
        )
    return new_diagnosis(
        "VF_COUNT_MISMATCH",
        view,
        "spec.containers[].resources.limits",
        f"SR-IOV CNI got no VF for {network or 'an attachment'}: the pod requests fewer VFs "
        "of that NAD's resource than it has attachments using it, or the NAD lacks the "
        "resourceName annotation.",
        "Request one VF of the NAD's resourceName per attachment that uses it.",
        evidence=evidence,
    )


def _too_few_vfs(view: PodView, network, resource: str, users: list[str], evidence: str):
    """The pod's request of the NAD's resource against the attachments that use it."""
    have = view.requests.get(resource, 0)
    if not have:
        return new_diagnosis(
            "VF_RESOURCE_MISSING",
            view,
            "spec.containers[].resources.limits",
            f"{len(users)} attachment(s) use {resource} ({', '.join(users)}), but the pod does "
            "not request it: Multus finds no allocated device to pass SR-IOV CNI.",
            f"Add {resource}: {len(users)} to the container's resources.limits.",
            evidence=evidence,
        )
    if have >= len(users):
        return new_diagnosis(
            "VF_COUNT_MISMATCH",
            view,
            "spec.containers[].resources.limits",
            f"SR-IOV CNI got no VF for {network} although the pod requests {fmt_amount(have)} "
            f"{resource} for {len(users)} attachment(s): the device plugin allocated fewer "
            "devices than requested, or another container holds them.",
            f"Check the pod's allocated devices (PCIDEVICE_* environment) and that {resource} "
            "is requested by the container the NADs' pods use.",
            evidence=evidence,
        )
    starved = users[int(have) :]
    verb = "gets" if len(starved) == 1 else "get"
    return new_diagnosis(
        "VF_COUNT_MISMATCH",
        view,
        "spec.containers[].resources.limits",
        f"{len(users)} attachments use {resource} ({', '.join(users)}) but the pod requests "
        f"{fmt_amount(have)}: Multus hands the allocated VFs out in order, so {', '.join(starved)} "
        f"{verb} none and SR-IOV CNI fails.",
        f"Request {resource}: {len(users)} (one per attachment), or attach that rail once.",
        evidence=evidence,
    )


def _range_exhausted(view: PodView, context: Context, network: str | None, event: dict) -> Finding:
    text = event["message"]
    match = EXHAUSTED.search(text)
    cidr = match.group(3) if match else None
    rail = context.plan.rail_for(network) if (context.plan and network) else None
    if rail is None and context.plan is not None and cidr:
        rail = next(
            (item for item in context.plan.rails.values() if same_network(item.rail.subnet, cidr)),
            None,
        )
    capacity, basis = _capacity(rail, match)
    pool = context.pools.get(_normal(cidr)) if cidr else None
    if pool is not None and capacity:
        used = min(pool[1], capacity)
        source = f"IPPool {pool[0]} holds {pool[1]:,} allocation(s)"
    else:
        used, source = capacity, "whereabouts found no free address"
    share = f"{100.0 * used / capacity:.1f}%" if capacity else "100%"
    label = (
        f"rail {rail.index} ({rail.rail.nad_name}, {rail.rail.subnet})"
        if rail
        else (f"{network or 'the network'} ({cidr or 'its range'})")
    )
    usage = (
        f"{used:,} of {capacity:,} pod addresses in use ({share}; {source}; capacity from {basis})"
        if capacity
        else source
    )
    interface = next((item["interface"] for item in view.networks if item["name"] == network), None)
    missing = f"; {interface} is never added" if interface else ""
    return new_diagnosis(
        "RANGE_EXHAUSTED",
        view,
        NETWORKS_FIELD,
        f"The whereabouts range of {label} is exhausted: {usage}. The pod stays in "
        f"ContainerCreating{missing}.",
        "Free addresses held by pods that no longer exist (run the whereabouts ip-reconciler, "
        "or look in the IPPool for podrefs of deleted pods), or widen the rail's range or shrink "
        "its exclusions in the plan and roll out; the kubelet retries the sandbox on its own.",
        evidence=EXHAUSTED_SHORT.search(text).group(0),
    )


def _capacity(rail, match) -> tuple[int, str]:
    if rail is not None and rail.usable:
        return rail.capacity, "the plan"
    if match is None:
        return 0, ""
    try:
        first, last = ipam.ip_to_int(match.group(1)), ipam.ip_to_int(match.group(2))
        excludes = [ipam.span_of(_cidr(text)) for text in match.group(4).split()]
    except (OSError, ValueError):
        return 0, ""
    return ipam.size(ipam.subtract([(first, last)], excludes)), "the event"


def _cidr(text: str) -> str:
    if "/" not in text:
        return text
    return str(ipam.parse_network(text, strict=False).cidr)


def _normal(cidr: str | None) -> str | None:
    try:
        return str(ipam.parse_network(cidr, strict=False).cidr) if cidr else None
    except ipam.AddressError:
        return None


def same_network(left: str, right: str) -> bool:
    return _normal(left) is not None and _normal(left) == _normal(right)
