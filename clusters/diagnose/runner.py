"""The entry points: one pod's diagnosis from every rule family, and what keeps a pod from running
when no rule names it."""

from __future__ import annotations

from clusters.diagnose.base import STARTING_REASONS, new_diagnosis, quote
from clusters.diagnose.capabilities import capability_findings
from clusters.diagnose.interfaces import interface_findings
from clusters.diagnose.network_annotations import annotation_findings
from clusters.diagnose.numa import numa_findings
from clusters.diagnose.sandbox import sandbox_findings
from clusters.diagnose.scheduling import admission_findings, scheduling_findings
from clusters.inspect import (
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
from planner.findings import Finding, sort_findings
from planner.planspec import PlanSpec


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
    causes: list[Finding] = annotation_findings(view)
    waiting = not view.running and not view.terminal
    if waiting and not view.node:
        causes += scheduling_findings(view, events, context)
    causes += admission_findings(view, events, context)
    if waiting and view.node:
        causes += sandbox_findings(view, events, context)
    found = causes or _not_running(view, events)
    found += capability_findings(view, context)
    found += numa_findings(view, context, interfaces, devices)
    if view.running:
        found += interface_findings(view, context, interfaces)
    return sort_findings(found)


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
        evidence = quote(warning) if warning else f"{view.reason}: {view.message or ''}"
    if warning and waiting:
        evidence += f" | {quote(warning)}"
    return [
        new_diagnosis(
            "POD_NOT_RUNNING",
            view,
            "status",
            f"{what[0].upper()}{what[1:]}; no rule here names the cause, the evidence is the "
            "latest warning.",
            f"Read the evidence and kubectl describe pod -n {view.namespace} {view.name}.",
            evidence=evidence,
        )
    ]
