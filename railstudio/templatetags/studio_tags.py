"""Template helpers every page shares: breadcrumbs and a plan's tabs."""

from django import template

from railstudio import navigation

register = template.Library()


@register.inclusion_tag("partials/breadcrumbs.html")
def breadcrumbs(*parts):
    """`{% breadcrumbs "Plans" plans_url plan.name %}`: label, URL pairs; the last label (no
    URL) is the current page."""
    crumbs = [(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
    return {"crumbs": crumbs, "current": parts[-1] if len(parts) % 2 else ""}


@register.inclusion_tag("planner/partials/plan_tabs.html", takes_context=True)
def plan_tabs(context, plan, active: str):
    """The plan's sections as tabs; `active` is the key of the current one."""
    return {"plan": plan, "active": active, "sections": navigation.plan_sections(plan.slug)}


@register.simple_tag
def plan_sections(plan):
    return navigation.plan_sections(plan.slug)


@register.simple_tag
def plan_section_label(key: str) -> str:
    return next((label for k, label, _ in navigation.PLAN_SECTIONS if k == key), key)
