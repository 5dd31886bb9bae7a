"""A plan's whole bundle in one mode: the network objects and the pod templates."""

from __future__ import annotations

from dataclasses import replace

from planner.manifests.operator import render_sriov_node_policies
from planner.manifests.options import PodOptions
from planner.manifests.pods import render_networks, render_pod_templates
from planner.planspec import PlanSpec


def render_bundle(
    plan: PlanSpec,
    mode: str = "nad",
    pod_options: PodOptions | dict | None = None,
    *,
    include_node_policies: bool = False,
) -> list[dict]:
    """What a rollout applies: the NADs (or SriovNetworks) then the PodTemplates.

    SriovNetworkNodePolicies are left out unless asked for: applying one drains and reboots
    nodes, which deserves its own deliberate step."""
    objects = render_networks(plan, mode)
    if mode == "sriov-operator" and include_node_policies:
        objects += render_sriov_node_policies(plan)
    return objects + render_pod_templates(plan, pod_options)


def with_pod_options(plan: PlanSpec, **pod_options) -> PlanSpec:
    """A copy of the plan with pod_options overridden (handy for callers and tests)."""
    return replace(plan, pod_options={**(plan.pod_options or {}), **pod_options})
