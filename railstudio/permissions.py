from rest_framework.permissions import SAFE_METHODS, BasePermission

from railstudio.roles import OPERATOR, PLANNER, VIEWER, has_role


class RolePermission(BasePermission):
    """Reads need the viewer role; writes need the view's `write_role` (planner by default), or
    the role `action_write_roles` names for that viewset action."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return has_role(user, VIEWER)
        per_action = getattr(view, "action_write_roles", {})
        needed = per_action.get(getattr(view, "action", None)) or getattr(
            view, "write_role", PLANNER
        )
        if has_role(user, needed):
            return True
        self.message = f"This action needs the {needed} role."
        return False


class OperatorOnly(RolePermission):
    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if has_role(request.user, OPERATOR):
            return True
        self.message = "This action needs the operator role."
        return False
