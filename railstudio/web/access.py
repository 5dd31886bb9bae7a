"""Role checks for page views: a view needs its role or answers 403 naming it."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.views.decorators.http import require_POST

from railstudio.roles import OPERATOR, PLANNER, VIEWER, has_role


def role_required(role: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


viewer_required = role_required(VIEWER)
planner_required = role_required(PLANNER)
operator_required = role_required(OPERATOR)


def planner_post(view):
    return require_POST(planner_required(view))


def operator_post(view):
    return require_POST(operator_required(view))
