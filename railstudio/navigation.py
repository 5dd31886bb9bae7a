"""Which main-navigation item a page belongs to, and the sections of a plan (its tabs)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

HOME, PLANS, LINT, CLUSTERS = "home", "plans", "lint", "clusters"

# By URL name; anything else by its prefix (a plan's pages are plan-*, a cluster's cluster-*).
SECTION_BY_NAME = {"home": HOME, "dashboard-section": HOME, "lint": LINT}
SECTION_BY_PREFIX = (
    ("plan-", PLANS),
    ("exclusion-", PLANS),
    ("node-", PLANS),
    ("host-ip-", PLANS),
    ("cluster-", CLUSTERS),
    ("rollout-", CLUSTERS),
    ("validation-", CLUSTERS),
)


def section_of(url_name: str | None) -> str:
    """The main nav item to highlight for a page's URL name; "" for pages outside it (the API
    docs, the admin, the login)."""
    if not url_name:
        return ""
    if url_name in SECTION_BY_NAME:
        return SECTION_BY_NAME[url_name]
    return next(
        (section for prefix, section in SECTION_BY_PREFIX if url_name.startswith(prefix)), ""
    )


@dataclass(frozen=True)
class PlanSection:
    key: str
    label: str
    url: str


# key, label, URL name.
PLAN_SECTIONS = (
    ("overview", "Overview & IP map", "plan-detail"),
    ("nodes", "Nodes & NICs", "plan-nodes"),
    ("manifests", "Manifests", "plan-manifests"),
    ("rollouts", "Rollouts", "plan-rollouts-page"),
    ("validations", "Validations", "plan-validations"),
)


def plan_sections(slug: str) -> list[PlanSection]:
    """A plan's tabs, in order; a section whose page does not exist (yet) is left out."""
    sections = []
    for key, label, url_name in PLAN_SECTIONS:
        try:
            sections.append(PlanSection(key, label, reverse(url_name, args=[slug])))
        except NoReverseMatch:
            continue
    return sections
