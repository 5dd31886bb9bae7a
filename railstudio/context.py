from railstudio.navigation import section_of
from railstudio.roles import OPERATOR, PLANNER, has_role


def roles(request):
    user = getattr(request, "user", None)
    return {
        "can_plan": has_role(user, PLANNER),
        "can_operate": has_role(user, OPERATOR),
    }


def navigation(request):
    """`nav_section`: the main navigation item the page belongs to."""
    match = getattr(request, "resolver_match", None)
    return {"nav_section": section_of(match.url_name if match else None)}
