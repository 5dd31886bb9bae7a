"""Diagnosis of one live pod: the cause, the fix, and the evidence (the event text).

Pure, like `clusters.inspect`: a pod dict, its events, the plan, node, NAD and IPPool dicts in;
findings out. Findings share their codes with preflight (planner.findings), so a user who met
NAD_NOT_FOUND in preflight meets the same code on a stuck pod. Each is a `Diagnosis`: a
planner Finding with an `evidence` field holding the words of the component that reported the
problem (scheduler, kubelet, Multus, SR-IOV CNI, whereabouts) or the observed fact.

Rules, each only while its symptom is current (a Running pod's old sandbox errors are history):
- FailedScheduling "Insufficient <resource>": not registered by any node (which nodes report
  how many), or all in use (RESOURCE_NOT_ADVERTISED, RESOURCE_INSUFFICIENT)
- NoNetworkFound / "cannot find a network-attachment-definition": NAD_NOT_FOUND, did you mean
- "VF pci addr is required": VF_COUNT_MISMATCH / VF_RESOURCE_MISSING /
  NAD_RESOURCE_ANNOTATION_MISSING
- "Could not allocate IP in range": RANGE_EXHAUSTED with the rail's utilisation
- UnexpectedAdmissionError: DEVICE_PLUGIN_NOT_READY; TopologyAffinityError: TOPOLOGY_AFFINITY
- GPUs and VFs on different NUMA nodes: NUMA_SPLIT ("RDMA works but throughput is half")
- no IPC_LOCK (SYS_NICE): IPC_LOCK_MISSING, SYS_NICE_MISSING
- a running pod's rail interface missing, in the wrong subnet, excluded, outside the pod range,
  duplicated or misnamed: INTERFACE_*, naming the rail and why
- anything else that keeps a pod from running: POD_NOT_RUNNING with the latest warning
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass

from clusters.inspect import (
    DUPLICATE,
    EXCLUDED,
    MISSING,
    NETWORK_STATUS_ANNOTATION,
    NETWORKS_ANNOTATION,
    OUTSIDE_RANGE,
    WRONG_NAME,
    WRONG_SUBNET,
    Context,
    InterfaceReport,
    PodView,
    build_context,
    event_order,
    interface_reports,
    involved_object,
    normalize_event,
    pod_reason,
    read_pod,
)
from planner import ipam, podfacts
from planner.findings import Finding, finding, sort_findings
from planner.planspec import PlanSpec

NETWORKS_FIELD = f'metadata.annotations["{NETWORKS_ANNOTATION}"]'
STATUS_FIELD = f'metadata.annotations["{NETWORK_STATUS_ANNOTATION}"]'
STARTING_REASONS = ("ContainerCreating", "PodInitializing")

_INSUFFICIENT = re.compile(r"(?:(\d+) )?Insufficient ([A-Za-z0-9./_-]+)")
_NAD_MISSING = re.compile(
    r"cannot find a network-attachment-definition \(([^)]*)\) in namespace \(([^)]*)\)"
)
_NETWORK = re.compile(r'error adding container to network "([^"]+)"')
_EXHAUSTED = re.compile(
    r"Could not allocate IP in range: ip: (\S+) / - (\S+) / range: (\S+) / "
    r"excludeRanges: \[([^\]]*)\]"
)
_EXHAUSTED_SHORT = re.compile(r"Could not allocate IP in range[^\n]*")
_ADMISSION = re.compile(r"unavailable for ([A-Za-z0-9./_-]+)\. Requested: (\d+), Available: (\d+)")
_VF_PCI = "VF pci addr is required"


@dataclass(frozen=True)
class Diagnosis(Finding):
    """A finding with the evidence it rests on: an event's words, or an observed fact."""

    evidence: str = ""

    def to_dict(self) -> dict:
        return {**super().to_dict(), "evidence": self.evidence}


def _diagnosis(
    code: str,
    view: PodView,
    field: str,
    message: str,
    fix: str,
    evidence: str = "",
    severity: str | None = None,
) -> Diagnosis:
    base = finding(code, view.ref, field, message, fix, severity)
    return Diagnosis(*(getattr(base, name) for name in Finding.__dataclass_fields__), evidence)


def _quote(event: dict | None) -> str:
    """An event as evidence: 'Warning FailedScheduling (x3): <message>'."""
    if not event:
        return ""
    repeat = f" (x{event['count']})" if (event.get("count") or 1) > 1 else ""
    return f"{event['type']} {event['reason']}{repeat}: {event['message']}"


def _latest(events: list[dict], *reasons: str) -> dict | None:
    found = None
    for event in events:  # oldest first
        if event["reason"] in reasons:
            found = event
    return found


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else str(amount)


def _names(items, limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ---------------------------------------------------------------------------------------------
# Entry points


def diagnose(
    pod: dict,
    events: list[dict],
    *,
    plan: PlanSpec | None = None,
    nodes: list[dict] | None = None,
    nads: list[dict] | None = None,
    interfaces: list | None = None,
    ippools: list[dict] | None = None,
    devices: dict | None = None,
) -> list[Finding]:
    """Findings for one pod, errors first. `events` are the pod's (others are ignored);
    `interfaces` are its InterfaceReports (or their dicts) from inspection, computed here when
    not given (without the cross-pod duplicate check)."""
    context = build_context(plan, nodes, nads, ippools)
    view = read_pod(pod)
    ordered = [
        (event_order(event, normalised), normalised)
        for event in events or []
        if isinstance(event, dict) and _is_about(event, view)
        for normalised in (normalize_event(event),)
    ]
    ordered.sort(key=lambda pair: pair[0])
    own = [normalised for _, normalised in ordered]
    if interfaces is None:
        reports = interface_reports(view, context, None, devices)
    else:
        reports = [
            item if isinstance(item, InterfaceReport) else InterfaceReport.from_dict(item)
            for item in interfaces
        ]
    return diagnose_view(view, own, context, reports, devices)


def _is_about(event: dict, view: PodView) -> bool:
    kind, _, name, uid = involved_object(event)
    if kind not in (None, "Pod"):
        return False
    if uid and view.uid:
        return uid == view.uid
    return name in (None, view.name)


def diagnose_view(
    view: PodView,
    events: list[dict],
    context: Context,
    interfaces: list[InterfaceReport],
    devices: dict | None = None,
) -> list[Finding]:
    """The rules over a pod already read (`inspect.read_pod`), its normalised events (oldest
    first) and its interface reports."""
    causes: list[Finding] = _annotation_problems(view)
    waiting = not view.running and not view.terminal
    if waiting and not view.node:
        causes += _scheduling(view, events, context)
    causes += _admission(view, events, context)
    if waiting and view.node:
        causes += _sandbox(view, events, context)
    found = causes or _not_running(view, events)
    found += _capabilities(view, context)
    found += _numa(view, context, interfaces, devices)
    if view.running:
        found += _interfaces(view, context, interfaces)
    return sort_findings(found)


# ---------------------------------------------------------------------------------------------
# Annotations


def _annotation_problems(view: PodView) -> list[Finding]:
    found = []
    if view.networks_error:
        found.append(
            _diagnosis(
                "NETWORKS_ANNOTATION_INVALID",
                view,
                NETWORKS_FIELD,
                f"Multus cannot read the networks annotation: {view.networks_error}; it fails "
                "the pod's sandbox, so the pod stays in ContainerCreating without its rails.",
                'Write a JSON list such as [{"name": "sriov-rail-0", "interface": "net1"}], or '
                "the comma form sriov-rail-0@net1, sriov-rail-1@net2.",
                evidence=_clip(view.networks_value or ""),
            )
        )
    if view.status_error:
        found.append(
            _diagnosis(
                "NETWORK_STATUS_INVALID",
                view,
                STATUS_FIELD,
                f"The network-status annotation Multus wrote cannot be read in full: "
                f"{view.status_error}; the interfaces below may be incomplete.",
                "Check what else writes the pod's annotations; Multus rewrites network-status "
                "when the pod's sandbox is recreated.",
                evidence=_clip(view.status_value or ""),
            )
        )
    return found


# ---------------------------------------------------------------------------------------------
# Scheduler and kubelet admission


def _scheduling(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    event = _latest(events, "FailedScheduling")
    message = view.scheduling_message or (event["message"] if event else "")
    if not message:
        return []
    evidence = _quote(event) if event else f"PodScheduled=False: {message}"
    found = [
        _resource_finding(view, context, resource.rstrip("."), evidence, nodes_short=count)
        for count, resource in _INSUFFICIENT.findall(message)
    ]
    if "node affinity/selector" in message:
        found.append(
            _diagnosis(
                "NODE_SELECTOR_NO_MATCH",
                view,
                "spec.nodeSelector",
                "No node matches the pod's nodeSelector or node affinity; the pod stays Pending.",
                "Correct the nodeSelector, or label the GPU nodes to match it.",
                evidence=evidence,
            )
        )
    return found


def _resource_finding(
    view: PodView, context: Context, resource: str, evidence: str, nodes_short="", node=None
) -> Finding:
    wanted = view.requests.get(resource, 0)
    asks = f"the pod asks for {_fmt(wanted)}" if wanted else "the pod asks for it"
    field = "spec.containers[].resources.limits"
    fix = _registration_fix(context, resource)
    if context.nodes is not None and node in context.nodes.allocatable:
        return _node_resource_finding(view, context, resource, evidence, node, asks, fix)
    if context.nodes is None:
        where = f"on {node}" if node else "on any node"
        return _diagnosis(
            "RESOURCE_NOT_ADVERTISED",
            view,
            field,
            f"The pod cannot get {resource} {where} ({asks}): no node had it free. Most often "
            "the device plugin has not registered it (give the nodes to see which advertise "
            "it and how many).",
            fix,
            evidence=evidence,
        )
    amounts = context.nodes.amounts(resource)
    advertising = {name: amount for name, amount in amounts.items() if amount > 0}
    if not advertising:
        zero = [name for name in amounts if context.nodes.lists(name, resource)]
        detail = (
            f"{len(zero)} of {len(amounts)} node(s) report 0: {_names(zero)}"
            if zero
            else f"none of the {len(amounts)} node(s) lists it"
        )
        return _diagnosis(
            "RESOURCE_NOT_ADVERTISED",
            view,
            field,
            f"No node advertises {resource} ({detail}): its device plugin has not registered "
            f"it, so the pod stays Pending ({asks}).",
            fix,
            evidence=evidence,
        )
    shown = _names(f"{name}: {_fmt(amount)}" for name, amount in sorted(advertising.items()))
    most = max(advertising.values())
    if wanted > most:
        cause = f"no node has more than {_fmt(most)}, so the pod can never fit"
        fix = f"Request at most {_fmt(most)} {resource} per pod, or add devices to the nodes."
    else:
        short = f" ({nodes_short} node(s) short)" if nodes_short else ""
        cause = f"every node's are taken by other pods{short}"
        fix = "Wait for pods holding them to finish, delete idle ones, or add devices or nodes."
    return _diagnosis(
        "RESOURCE_INSUFFICIENT",
        view,
        field,
        f"{len(advertising)} of {len(amounts)} node(s) advertise {resource} ({shown}) and "
        f"{asks}, but {cause}.",
        fix,
        evidence=evidence,
    )


def _node_resource_finding(view, context, resource, evidence, node, asks, fix) -> Finding:
    """The kubelet of `node` refused the pod: what that node and the others advertise."""
    here = context.nodes.amount(node, resource)
    others = {
        name: amount
        for name, amount in context.nodes.amounts(resource).items()
        if name != node and amount > 0
    }
    elsewhere = (
        f"; {len(others)} other node(s) do ("
        + _names(f"{name}: {_fmt(amount)}" for name, amount in sorted(others.items()))
        + ")"
        if others
        else "; no other node does either"
    )
    field = "spec.containers[].resources.limits"
    if here <= 0:
        return _diagnosis(
            "RESOURCE_NOT_ADVERTISED",
            view,
            field,
            f"The kubelet on {node} refused the pod: {node} advertises 0 {resource}{elsewhere}. "
            f"Its device plugin has not registered the resource ({asks}).",
            fix,
            evidence=evidence,
        )
    return _diagnosis(
        "RESOURCE_INSUFFICIENT",
        view,
        field,
        f"The kubelet on {node} refused the pod: {node} advertises {_fmt(here)} {resource} but "
        f"they are in use ({asks}){elsewhere}.",
        "Delete the pod so its controller recreates it and the scheduler places it again, or "
        "free devices on the node.",
        evidence=evidence,
    )


def _registration_fix(context: Context, resource: str) -> str:
    check = (
        f"then kubectl get node -o jsonpath='{{.status.allocatable}}' must list {resource} above 0."
    )
    if resource == context.gpu_resource:
        return f"Check the NVIDIA device plugin (GPU operator) pods on the GPU nodes; {check}"
    if context.is_vf_resource(resource):
        return (
            f"Make the SR-IOV device plugin register {resource}: check its pod logs (or the "
            "SR-IOV operator's node policy) and its resourceList selectors, and that the rail's "
            f"NICs have VFs (numVfs); {check}"
        )
    return f"Check the device plugin that provides {resource}; {check}"


def _admission(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    if view.running:
        return []
    reason = view.reason or ""
    found = []
    event = _latest(events, "UnexpectedAdmissionError")
    if reason == "UnexpectedAdmissionError" or (event and not view.terminal and not reason):
        found.append(_device_plugin_not_ready(view, event, context))
    event = _latest(events, "TopologyAffinityError")
    if reason == "TopologyAffinityError" or (event and not reason):
        found.append(_topology_affinity(view, event, context))
    if reason.startswith("OutOf") and len(reason) > len("OutOf"):
        evidence = f"{reason}: {view.message or ''}"
        found.append(
            _resource_finding(view, context, reason.removeprefix("OutOf"), evidence, node=view.node)
        )
    return found


def _device_plugin_not_ready(view: PodView, event: dict | None, context: Context) -> Finding:
    text = (event or {}).get("message") or view.message or ""
    match = _ADMISSION.search(text)
    resource, requested, available = match.groups() if match else ("the resource", "?", "?")
    node = view.node or "its node"
    now = ""
    if context.nodes is not None and match and view.node in context.nodes.allocatable:
        amount = context.nodes.amount(view.node, resource)
        now = f" {node} now advertises {_fmt(amount)} {resource}" + (
            ": the plugin is still not registered." if amount <= 0 else ": it is back."
        )
    return _diagnosis(
        "DEVICE_PLUGIN_NOT_READY",
        view,
        "status.reason",
        f"The kubelet on {node} rejected the pod at admission: no {resource} device to hand out "
        f"(requested {requested}, available {available}) although the scheduler had counted "
        f"{node}'s allocatable. The device plugin was not (yet) registered with the kubelet, as "
        f"right after a node reboot or a device-plugin restart.{now}",
        f"Wait until the SR-IOV device plugin pod on {node} is Running and the node's "
        f"allocatable shows {resource} again, then delete the pod so its controller recreates "
        "it: a pod rejected at admission stays Failed and is never retried.",
        evidence=_quote(event) if event else f"UnexpectedAdmissionError: {view.message or ''}",
    )


def _topology_affinity(view: PodView, event: dict | None, context: Context) -> Finding:
    gpus = view.requests.get(context.gpu_resource, 0)
    layout = _planned_numa(view, context)
    where = f" Per the plan its rails sit on {layout}." if layout else ""
    return _diagnosis(
        "TOPOLOGY_AFFINITY",
        view,
        "spec.containers",
        f"Topology Manager on {view.node or 'the node'} rejected the pod: its {_fmt(gpus)} "
        f"GPU(s) and {len(view.networks)} rail VF(s) cannot all come from one NUMA node under "
        f"the kubelet's policy (single-numa-node or restricted).{where}",
        "Size pods to one NUMA node: its GPUs plus the rails on that socket (e.g. 4 GPUs + "
        "rails 0-3); or run whole-node pods under the best-effort policy and accept "
        "cross-socket traffic.",
        evidence=_quote(event) if event else f"TopologyAffinityError: {view.message or ''}",
    )


def _planned_numa(view: PodView, context: Context) -> str:
    """'NUMA node 0 (rails 0, 1, 2, 3)' for the rails the pod attaches, from the plan."""
    if context.plan is None:
        return ""
    by_numa: dict[int, list[int]] = defaultdict(list)
    for network in view.networks:
        rail = context.plan.rail_spec_for(network["name"])
        if rail is None:
            continue
        numa = context.plan.nic_numa(view.node, None, None, rail.index)
        if numa is not None:
            by_numa[numa].append(rail.index)
    return "; ".join(
        f"NUMA node {numa} (rails {_names(rails)})" for numa, rails in sorted(by_numa.items())
    )


# ---------------------------------------------------------------------------------------------
# Pod sandbox: Multus, SR-IOV CNI, whereabouts


def _sandbox(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    sandbox = _latest(events, "FailedCreatePodSandBox")
    missing_event = _latest(events, "NoNetworkFound")
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for event in (missing_event, sandbox):
        if event is None:
            continue
        for name, namespace in _NAD_MISSING.findall(event["message"]):
            if (namespace, name) not in seen:
                seen.add((namespace, name))
                found.append(_nad_not_found(view, context, name, namespace, event))
    if sandbox is None:
        return found
    text = sandbox["message"]
    network = _NETWORK.search(text)
    if _VF_PCI in text:
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
        known = f" NADs {source}: {_names(candidates)}." if candidates else ""
        hint = known
        fix = (
            f"Create the NAD {name} in {namespace}, or correct the name in the networks "
            "annotation; the kubelet retries the sandbox on its own once it exists."
        )
    return _diagnosis(
        "NAD_NOT_FOUND",
        view,
        NETWORKS_FIELD,
        f"Multus cannot find the NAD {name} in namespace {namespace}{asked}: the pod stays in "
        f"ContainerCreating and none of its rail interfaces appear.{hint}",
        fix,
        evidence=_quote(event),
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
    evidence = _quote(event)
    if resource is None:
        known = context.nads.get(view.namespace, network) if (context.nads and network) else None
        if known is not None:
            return _diagnosis(
                "NAD_RESOURCE_ANNOTATION_MISSING",
                view,
                NETWORKS_FIELD,
                f"The NAD {network} has no k8s.v1.cni.cncf.io/resourceName annotation, so Multus "
                'passes SR-IOV CNI no VF and it fails with "VF pci addr is required".',
                "Add the annotation k8s.v1.cni.cncf.io/resourceName: <the rail's VF pool, e.g. "
                "nvidia.com/rail0_vf> to the NAD and request that resource in the pod.",
                evidence=evidence,
            )
        return _diagnosis(
            "VF_COUNT_MISMATCH",
            view,
            "spec.containers[].resources.limits",
            f"SR-IOV CNI got no VF for {network or 'an attachment'}: the pod requests fewer VFs "
            "of that NAD's resource than it has attachments using it, or the NAD lacks the "
            "resourceName annotation.",
            "Request one VF of the NAD's resourceName per attachment that uses it.",
            evidence=evidence,
        )
    users = by_resource[resource]
    have = view.requests.get(resource, 0)
    if not have:
        return _diagnosis(
            "VF_RESOURCE_MISSING",
            view,
            "spec.containers[].resources.limits",
            f"{len(users)} attachment(s) use {resource} ({', '.join(users)}), but the pod does "
            "not request it: Multus finds no allocated device to pass SR-IOV CNI.",
            f"Add {resource}: {len(users)} to the container's resources.limits.",
            evidence=evidence,
        )
    if have >= len(users):
        return _diagnosis(
            "VF_COUNT_MISMATCH",
            view,
            "spec.containers[].resources.limits",
            f"SR-IOV CNI got no VF for {network} although the pod requests {_fmt(have)} "
            f"{resource} for {len(users)} attachment(s): the device plugin allocated fewer "
            "devices than requested, or another container holds them.",
            f"Check the pod's allocated devices (PCIDEVICE_* environment) and that {resource} "
            "is requested by the container the NADs' pods use.",
            evidence=evidence,
        )
    starved = users[int(have) :]
    verb = "gets" if len(starved) == 1 else "get"
    return _diagnosis(
        "VF_COUNT_MISMATCH",
        view,
        "spec.containers[].resources.limits",
        f"{len(users)} attachments use {resource} ({', '.join(users)}) but the pod requests "
        f"{_fmt(have)}: Multus hands the allocated VFs out in order, so {', '.join(starved)} "
        f"{verb} none and SR-IOV CNI fails.",
        f"Request {resource}: {len(users)} (one per attachment), or attach that rail once.",
        evidence=evidence,
    )


def _range_exhausted(view: PodView, context: Context, network: str | None, event: dict) -> Finding:
    text = event["message"]
    match = _EXHAUSTED.search(text)
    cidr = match.group(3) if match else None
    rail = context.plan.rail_for(network) if (context.plan and network) else None
    if rail is None and context.plan is not None and cidr:
        rail = next(
            (item for item in context.plan.rails.values() if _same_network(item.rail.subnet, cidr)),
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
    return _diagnosis(
        "RANGE_EXHAUSTED",
        view,
        NETWORKS_FIELD,
        f"The whereabouts range of {label} is exhausted: {usage}. The pod stays in "
        f"ContainerCreating{missing}.",
        "Free addresses held by pods that no longer exist (run the whereabouts ip-reconciler, "
        "or look in the IPPool for podrefs of deleted pods), or widen the rail's range or shrink "
        "its exclusions in the plan and roll out; the kubelet retries the sandbox on its own.",
        evidence=_EXHAUSTED_SHORT.search(text).group(0),
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


def _same_network(left: str, right: str) -> bool:
    return _normal(left) is not None and _normal(left) == _normal(right)


# ---------------------------------------------------------------------------------------------
# Pod spec: capabilities


_CAPABILITY_PROBLEMS = {
    "IPC_LOCK": (
        "IPC_LOCK_MISSING",
        "Container {name} attaches RDMA rails without IPC_LOCK: it cannot pin (register) memory, "
        "so ibv_devinfo in the pod shows nothing usable and NCCL falls back to TCP sockets.",
        'Add "IPC_LOCK" to securityContext.capabilities.add and recreate the pod.',
    ),
    "SYS_NICE": (
        "SYS_NICE_MISSING",
        "Container {name} lacks SYS_NICE, which NCCL uses to raise its threads' priority.",
        'Add "SYS_NICE" to securityContext.capabilities.add.',
    ),
}


def _capabilities(view: PodView, context: Context) -> list[Finding]:
    rdma_resources = {resource for resource in view.requests if context.is_vf_resource(resource)}
    attaches_rdma = any(
        context.is_rdma_network(item["namespace"], item["name"]) for item in view.networks
    )
    if not rdma_resources and not attaches_rdma:
        return []
    requests = [container.requests for container in view.containers]
    found = []
    for index in podfacts.rdma_containers(requests, rdma_resources):
        container = view.containers[index]
        field = f"spec.containers[{index}].securityContext.capabilities.add"
        evidence = (
            f"container {container.name}: capabilities.add = {sorted(container.capabilities)}"
        )
        for missing in podfacts.missing_rdma_capabilities(
            container.capabilities, container.privileged
        ):
            code, problem, fix = _CAPABILITY_PROBLEMS[missing]
            found.append(
                _diagnosis(
                    code, view, field, problem.format(name=container.name), fix, evidence=evidence
                )
            )
    return found


# ---------------------------------------------------------------------------------------------
# NUMA


def _numa(
    view: PodView, context: Context, interfaces: list[InterfaceReport], devices: dict | None
) -> list[Finding]:
    if not view.running:
        return []
    gpu_numa, gpu_source = _gpu_numa(view, context, devices)
    if not gpu_numa:
        return _numa_unverified(view, context, interfaces)
    remote = [
        item for item in interfaces if item.numa_node is not None and item.numa_node not in gpu_numa
    ]
    if not remote:
        return []
    vf_text = _names(
        f"{item.name} (rail {item.rail if item.rail is not None else '?'}, NUMA "
        f"{item.numa_node}{', ' + item.pci_address if item.pci_address else ''})"
        for item in remote
    )
    gpus = ", ".join(str(numa) for numa in sorted(gpu_numa))
    gpu_count = _fmt(view.requests.get(context.gpu_resource, 0))
    sources = sorted({item.numa_source or "plan" for item in remote})
    return [
        _diagnosis(
            "NUMA_SPLIT",
            view,
            "spec.containers",
            f"RDMA works but throughput is about half: {vf_text} sit on a NUMA node that "
            f"holds none of the pod's {gpu_count} GPU(s) (NUMA node {gpus}); GPU-to-NIC "
            "traffic crosses the socket link.",
            "Turn on Topology Manager (single-numa-node or restricted) with the SR-IOV and GPU "
            "device plugins' NUMA hints (no excludeTopology), and request GPUs and rails of one "
            "NUMA node per pod (e.g. 4 GPUs + rails 0-3).",
            evidence=f"GPU NUMA from {gpu_source}; VF NUMA from {', '.join(sources)}: "
            + "; ".join(f"{item.name} numa_node={item.numa_node}" for item in remote),
        )
    ]


_NUMA_SOURCES = {
    "observed": "what the pod sees",
    "node": "the node's facts",
    "plan": "the plan's NIC inventory",
}


def _vf_numa_basis(interfaces: list[InterfaceReport]) -> str:
    """How each rail VF's NUMA node was found: 'net1 0000:18:00.2 (PF 0000:18:00.0) -> NUMA 0
    from the plan's NIC inventory'."""
    parts = []
    for item in interfaces:
        if not item.pci_address and item.numa_node is None:
            continue
        where = item.pci_address or "no PCI address"
        if item.pf_pci_address:
            where += f" (PF {item.pf_pci_address})"
        if item.numa_node is None:
            parts.append(f"{item.name} {where} -> NUMA unknown")
        else:
            source = _NUMA_SOURCES.get(item.numa_source or "plan", item.numa_source)
            parts.append(f"{item.name} {where} -> NUMA {item.numa_node} from {source}")
    return "; ".join(parts)


def _numa_unverified(
    view: PodView, context: Context, interfaces: list[InterfaceReport]
) -> list[Finding]:
    """A running pod with GPUs and rail VFs whose GPUs' NUMA nodes nothing observed: say what
    was judged (the VFs' NUMA nodes from the device-info PCI addresses in network-status, node
    facts or the inventory) and what could not be (which GPUs the pod got: the Kubernetes API
    does not tell, and no node agent answered for the pod's node)."""
    gpus = view.requests.get(context.gpu_resource, 0)
    if not gpus or not any(item.numa_node is not None for item in interfaces):
        return []  # nothing was judged
    basis = _vf_numa_basis(interfaces)
    return [
        _diagnosis(
            "NUMA_UNVERIFIED",
            view,
            "spec.containers",
            f"The NUMA nodes of the pod's rail VFs were judged from their device-info PCI "
            f"addresses ({basis}); those of its {_fmt(gpus)} GPU(s) could not be: the Kubernetes "
            "API does not say which GPUs a pod got, and no node agent answered for its node, so "
            "GPU-to-VF NUMA alignment is unchecked.",
            "Install Rail Studio's node agent (`python manage.py node_agent --cluster NAME`), "
            "which reads the kubelet's PodResources API on each node; or run Topology Manager "
            "with single-numa-node so the kubelet refuses misaligned pods (TOPOLOGY_AFFINITY).",
            evidence=f"VF NUMA: {basis}; GPU NUMA: not observable through the API",
        )
    ]


def _gpu_numa(view: PodView, context: Context, devices: dict | None) -> tuple[set[int], str]:
    """The NUMA nodes of the pod's GPUs: observed, or the node's when it takes all of them."""
    if isinstance(devices, dict):
        observed = {
            gpu["numa_node"]
            for gpu in devices.get("gpus") or []
            if isinstance(gpu, dict) and isinstance(gpu.get("numa_node"), int)
        }
        if observed:
            return observed, "the pod's devices"
    wanted = view.requests.get(context.gpu_resource, 0)
    layout = context.nodes.gpu_numa.get(view.node or "") if context.nodes else None
    if not layout or not wanted:
        return set(), ""
    if wanted >= sum(layout.values()):
        return {numa for numa, count in layout.items() if count}, "the node (all its GPUs)"
    return set(), ""


# ---------------------------------------------------------------------------------------------
# Interfaces of a running pod, against the plan


def _interfaces(
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
    return _diagnosis(
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
    if nad and nad[0] and item.subnet and not any(_same_network(r, item.subnet) for r in nad[0]):
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
    return _diagnosis(
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
    return _diagnosis(
        "INTERFACE_EXCLUDED_ADDRESS",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {item.ip}, which the plan excludes ({item.exclusion}); it may "
        f"collide with infrastructure on the rail: {why}.",
        fix,
        evidence=f"network-status {item.network}: interface {item.name}, ips {item.ips}",
    )


def _outside_range(view: PodView, context: Context, item: InterfaceReport) -> Finding:
    return _diagnosis(
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
    return _diagnosis(
        "INTERFACE_DUPLICATE_IP",
        view,
        f"interfaces.{item.name}",
        f"{_rail_label(item)} has {item.ip}, which {_names(shared, 3)} also hold(s): RDMA "
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
    return _diagnosis(
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


# ---------------------------------------------------------------------------------------------
# Anything else


def _not_running(view: PodView, events: list[dict]) -> list[Finding]:
    waiting = [
        state
        for state in view.container_states
        if state["state"] == "waiting" and state["reason"] not in (None, *STARTING_REASONS)
    ]
    if view.phase in ("Running", "Succeeded") and not waiting:
        return []
    warning = next((event for event in reversed(events) if event["type"] == "Warning"), None)
    if view.phase == "Pending" and not warning and not waiting:
        return []  # still starting
    if waiting:
        state = waiting[0]
        what = f"container {state['name']} is waiting: {state['reason']}"
        evidence = f"{state['reason']}: {state['message'] or ''}".strip()
    else:
        what = f"the pod is {view.phase} ({pod_reason(view) or 'no reason given'})"
        evidence = _quote(warning) if warning else f"{view.reason}: {view.message or ''}"
    if warning and waiting:
        evidence += f" | {_quote(warning)}"
    return [
        _diagnosis(
            "POD_NOT_RUNNING",
            view,
            "status",
            f"{what[0].upper()}{what[1:]}; no rule here names the cause, the evidence is the "
            "latest warning.",
            f"Read the evidence and kubectl describe pod -n {view.namespace} {view.name}.",
            evidence=evidence,
        )
    ]
