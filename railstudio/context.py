from railstudio.roles import OPERATOR, PLANNER, has_role


def roles(request):
    user = getattr(request, "user", None)
    return {
        "can_plan": has_role(user, PLANNER),
        "can_operate": has_role(user, OPERATOR),
    }
