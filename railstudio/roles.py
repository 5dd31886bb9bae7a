"""The three roles, as Django groups with model permissions.

viewer   reads everything;
planner  viewer + edits plans (every model of the planner app);
operator planner + registers clusters, rolls out and rolls back (every permission of clusters).
"""

from django.contrib.auth.models import Group, Permission

VIEWER, PLANNER, OPERATOR = "viewer", "planner", "operator"
ROLES = (VIEWER, PLANNER, OPERATOR)

# The permission that proves each role; superusers hold all of them.
ROLE_PERMISSION = {
    VIEWER: "planner.view_plan",
    PLANNER: "planner.change_plan",
    OPERATOR: "clusters.operate_cluster",
}


def has_role(user, role: str) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(ROLE_PERMISSION[role]))


def _permissions(app_label: str, codename_prefix: str | None = None):
    perms = Permission.objects.filter(content_type__app_label=app_label)
    if codename_prefix:
        perms = perms.filter(codename__startswith=codename_prefix)
    return list(perms)


def ensure_roles(**_kwargs) -> None:
    """Create or refresh the groups; idempotent, run after every migrate."""
    viewing = _permissions("planner", "view_") + _permissions("clusters", "view_")
    planning = viewing + _permissions("planner")
    operating = planning + _permissions("clusters")
    for name, perms in ((VIEWER, viewing), (PLANNER, planning), (OPERATOR, operating)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(perms)
