"""A plan's rules plus the rules over the bundle it renders (what the Manifests tab shows)."""

from __future__ import annotations

from planner import manifests
from planner.findings import Finding, finding, sort_findings
from planner.planspec import PlanSpec
from planner.preflight.plan import check_plan
from planner.preflight.reading import SRIOV_NETWORK_KINDS, ClusterFacts
from planner.preflight.runner import run


def check_rendered(
    plan: PlanSpec,
    mode: str = "nad",
    pod_options: manifests.PodOptions | dict | None = None,
    facts: ClusterFacts | dict | None = None,
) -> list[Finding]:
    """Plan-level findings plus findings over the rendered bundle (what the Manifests tab shows).

    Raises ManifestError for an unknown mode; other rendering problems become findings."""
    if mode not in manifests.MODES:
        raise manifests.ManifestError(f"mode must be one of {', '.join(manifests.MODES)}")
    found = check_plan(plan)
    try:
        bundle = manifests.render_bundle(plan, mode, pod_options)
    except manifests.ManifestError as error:
        return sort_findings(found + _render_problems(plan, error.errors, found))
    bundle_findings = [
        item
        for item in run(bundle, plan, facts)
        if item.code != "ROCE_DSCP_TRUST" and not item.object.startswith(_PLAN_DERIVED_KINDS)
    ]
    return sort_findings(found + bundle_findings)


def _render_problems(plan: PlanSpec, problems: list[str], found: list[Finding]) -> list[Finding]:
    """Findings for why rendering failed, shaped like check_plan's so repeats collapse."""
    addresses_reported = any(item.code == "IPAM_INVALID" for item in found)
    result = []
    for problem in problems:
        if problem.startswith("rail ") and addresses_reported:
            continue
        is_pod = "pod option" in problem or "layout" in problem
        code, field_name = (
            ("POD_OPTION_INVALID", "pod_options")
            if is_pod
            else ("CNI_OPTION_INVALID", "cni_options")
        )
        result.append(
            finding(code, f"plan {plan.slug}", field_name, problem, "Correct or remove it.")
        )
    return result


# The plan-level rules already cover the networks rendered from the plan.
_PLAN_DERIVED_KINDS = tuple(f"{kind} " for kind in (manifests.NAD_KIND, *SRIOV_NETWORK_KINDS))
