"""One preflight run over objects: every rule family in turn, malformed objects set aside."""

from __future__ import annotations

from dataclasses import replace

from planner import manifests
from planner.findings import Finding, finding, sort_findings
from planner.planspec import PlanSpec
from planner.preflight.context import Context
from planner.preflight.nads import (
    check_nad_object,
    check_node_policy,
    check_sriov_network,
    register_cluster_nad,
    register_plan_nads,
    roce_reminder,
)
from planner.preflight.pools import check_capacity, check_overlaps
from planner.preflight.reading import SRIOV_NETWORK_KINDS, ClusterFacts, describe, read_workload
from planner.preflight.workloads import check_workload


def _check_pool_capacity(context: Context) -> None:
    """NAD pools against the pods in the input that attach them."""
    for pool in context.pools:
        pods = context.attached_pods.get(pool.key)
        if pods:
            context.extend(check_capacity(replace(pool, planned_pods=pods)))


_SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError)


def run(
    objects: list[dict],
    plan: PlanSpec | None = None,
    facts: ClusterFacts | dict | None = None,
) -> list[Finding]:
    """Findings over `objects` (in the order given), the plan as context, and cluster facts.

    An object with a field of the wrong type (say `spec: 5`) becomes an OBJECT_MALFORMED finding
    and the others are still checked."""
    try:
        return _run(objects, plan, facts)
    except _SHAPE_ERRORS:
        checkable, malformed = [], []
        for index, obj in enumerate(objects):
            try:
                _run([obj], plan, facts)
                checkable.append(obj)
            except _SHAPE_ERRORS as error:
                malformed.append(
                    finding(
                        "OBJECT_MALFORMED",
                        describe(obj, index) if isinstance(obj, dict) else f"object {index + 1}",
                        "",
                        f"A field has the wrong type (e.g. a number where a mapping or list "
                        f"belongs), so it could not be checked: {error}",
                        "Compare the object with the Kubernetes API reference for its kind.",
                    )
                )
        return sort_findings(_run(checkable, plan, facts) + malformed)


def _run(objects: list[dict], plan: PlanSpec | None, facts) -> list[Finding]:
    context = Context(list(objects), plan, ClusterFacts.coerce(facts))
    if plan is not None:
        register_plan_nads(context, plan)
    for nad in context.facts.nads or []:
        register_cluster_nad(context, nad)
    for index, obj in enumerate(context.objects):
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind")
        if kind == manifests.NAD_KIND:
            check_nad_object(context, obj, index)
        elif kind in SRIOV_NETWORK_KINDS:
            check_sriov_network(context, obj, index)
        elif kind == "SriovNetworkNodePolicy":
            check_node_policy(context, obj, index)
    context.extend(check_overlaps(context.pools, _cluster_cidrs(context)))
    workloads = [read_workload(obj, index, plan) for index, obj in enumerate(context.objects)]
    workloads = [workload for workload in workloads if workload is not None]
    for workload in workloads:
        check_workload(context, workload)
    _check_pool_capacity(context)
    if workloads and not context.nads_known and not context.nads:
        context.add(
            finding(
                "NAD_UNVERIFIED",
                "input",
                "",
                "No NADs, plan or cluster facts were given, so the networks annotations were not "
                "checked against existing NADs.",
                "Include the NADs in the input, or check against a plan or a registered "
                "cluster's live NADs (Lint YAML offers both).",
            )
        )
    if context.roce_nads:
        context.add(roce_reminder("input", context.roce_nads))
    return sort_findings(context.findings)


def _cluster_cidrs(context: Context) -> dict:
    return {
        "pod CIDR": ("RAIL_OVERLAPS_POD_CIDR", context.pod_cidr),
        "service CIDR": ("RAIL_OVERLAPS_SERVICE_CIDR", context.service_cidr),
    }
