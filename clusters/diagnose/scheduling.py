"""Scheduler and kubelet admission: resources nobody registers or all in use, device plugins not
ready, Topology Manager refusals."""

from __future__ import annotations

from collections import defaultdict

from clusters.diagnose.base import (
    ADMISSION,
    INSUFFICIENT,
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
from planner.findings import Finding


def scheduling_findings(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    event = latest_warning(events, "FailedScheduling")
    message = view.scheduling_message or (event["message"] if event else "")
    if not message:
        return []
    evidence = quote(event) if event else f"PodScheduled=False: {message}"
    found = [
        _resource_finding(view, context, resource.rstrip("."), evidence, nodes_short=count)
        for count, resource in INSUFFICIENT.findall(message)
    ]
    if "node affinity/selector" in message:
        found.append(
            new_diagnosis(
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
    asks = f"the pod asks for {fmt_amount(wanted)}" if wanted else "the pod asks for it"
    field = "spec.containers[].resources.limits"
    fix = _registration_fix(context, resource)
    if context.nodes is not None and node in context.nodes.allocatable:
        return _node_resource_finding(view, context, resource, evidence, node, asks, fix)
    if context.nodes is None:
        where = f"on {node}" if node else "on any node"
        return new_diagnosis(
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
            f"{len(zero)} of {len(amounts)} node(s) report 0: {names_text(zero)}"
            if zero
            else f"none of the {len(amounts)} node(s) lists it"
        )
        return new_diagnosis(
            "RESOURCE_NOT_ADVERTISED",
            view,
            field,
            f"No node advertises {resource} ({detail}): its device plugin has not registered "
            f"it, so the pod stays Pending ({asks}).",
            fix,
            evidence=evidence,
        )
    shown = names_text(
        f"{name}: {fmt_amount(amount)}" for name, amount in sorted(advertising.items())
    )
    most = max(advertising.values())
    if wanted > most:
        cause = f"no node has more than {fmt_amount(most)}, so the pod can never fit"
        fix = f"Request at most {fmt_amount(most)} {resource} per pod, or add devices to the nodes."
    else:
        short = f" ({nodes_short} node(s) short)" if nodes_short else ""
        cause = f"every node's are taken by other pods{short}"
        fix = "Wait for pods holding them to finish, delete idle ones, or add devices or nodes."
    return new_diagnosis(
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
        + names_text(f"{name}: {fmt_amount(amount)}" for name, amount in sorted(others.items()))
        + ")"
        if others
        else "; no other node does either"
    )
    field = "spec.containers[].resources.limits"
    if here <= 0:
        return new_diagnosis(
            "RESOURCE_NOT_ADVERTISED",
            view,
            field,
            f"The kubelet on {node} refused the pod: {node} advertises 0 {resource}{elsewhere}. "
            f"Its device plugin has not registered the resource ({asks}).",
            fix,
            evidence=evidence,
        )
    return new_diagnosis(
        "RESOURCE_INSUFFICIENT",
        view,
        field,
        f"The kubelet on {node} refused the pod: {node} advertises {fmt_amount(here)} {resource} but "
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


def admission_findings(view: PodView, events: list[dict], context: Context) -> list[Finding]:
    if view.running:
        return []
    reason = view.reason or ""
    found = []
    event = latest_warning(events, "UnexpectedAdmissionError")
    if reason == "UnexpectedAdmissionError" or (event and not view.terminal and not reason):
        found.append(_device_plugin_not_ready(view, event, context))
    event = latest_warning(events, "TopologyAffinityError")
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
    match = ADMISSION.search(text)
    resource, requested, available = match.groups() if match else ("the resource", "?", "?")
    node = view.node or "its node"
    now = ""
    if context.nodes is not None and match and view.node in context.nodes.allocatable:
        amount = context.nodes.amount(view.node, resource)
        now = f" {node} now advertises {fmt_amount(amount)} {resource}" + (
            ": the plugin is still not registered." if amount <= 0 else ": it is back."
        )
    return new_diagnosis(
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
        evidence=quote(event) if event else f"UnexpectedAdmissionError: {view.message or ''}",
    )


def _topology_affinity(view: PodView, event: dict | None, context: Context) -> Finding:
    gpus = view.requests.get(context.gpu_resource, 0)
    layout = _planned_numa(view, context)
    where = f" Per the plan its rails sit on {layout}." if layout else ""
    return new_diagnosis(
        "TOPOLOGY_AFFINITY",
        view,
        "spec.containers",
        f"Topology Manager on {view.node or 'the node'} rejected the pod: its {fmt_amount(gpus)} "
        f"GPU(s) and {len(view.networks)} rail VF(s) cannot all come from one NUMA node under "
        f"the kubelet's policy (single-numa-node or restricted).{where}",
        "Size pods to one NUMA node: its GPUs plus the rails on that socket (e.g. 4 GPUs + "
        "rails 0-3); or run whole-node pods under the best-effort policy and accept "
        "cross-socket traffic.",
        evidence=quote(event) if event else f"TopologyAffinityError: {view.message or ''}",
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
        f"NUMA node {numa} (rails {names_text(rails)})" for numa, rails in sorted(by_numa.items())
    )
