"""The three roles, as Django groups with model permissions.

viewer   reads everything;
planner  viewer + edits plans (every model of the planner app);
operator planner + registers clusters, rolls out and rolls back (every permission of clusters).
"""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

VIEWER, PLANNER, OPERATOR = "viewer", "planner", "operator"
ROLES = (VIEWER, PLANNER, OPERATOR)

# The permission that proves each role; superusers hold all of them.
ROLE_PERMISSION = {
    VIEWER: "planner.view_plan",
    PLANNER: "planner.change_plan",
    OPERATOR: "clusters.operate_cluster",
}


def has_role(user, role: str) -> bool:
    return bool(user and user.is_authenticated and role in roles_of(user))


def roles_of(user) -> frozenset[str]:
    """The roles an authenticated user holds, as Django's ModelBackend would grant their
    permissions (active users; their own or their groups' permissions; superusers all), in one
    query, remembered on the user object for the rest of the request."""
    roles = getattr(user, "_railstudio_roles", None)
    if roles is None:
        roles = user._railstudio_roles = _roles_from_database(user)
    return roles


def _roles_from_database(user) -> frozenset[str]:
    if not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(ROLES)
    with connection.cursor() as cursor:
        sql, params = _role_query()
        cursor.execute(sql, [*params, user.pk, user.pk])
        held = {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
    return frozenset(role for role, permission in ROLE_PERMISSION.items() if permission in held)


@functools.cache
def _role_query() -> tuple[str, list[str]]:
    """Which of the role permissions a user holds, own or through a group: one query, written
    out because the ORM's query building cost more than the query on every API request."""
    User = get_user_model()
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table
    own = User.user_permissions.through._meta.db_table
    groups = User.groups.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    wanted = " OR ".join(["(ct.app_label = %s AND p.codename = %s)"] * len(ROLE_PERMISSION))
    sql = (
        f"SELECT ct.app_label, p.codename FROM {permission} p "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id WHERE ({wanted}) AND ("
        f"p.id IN (SELECT permission_id FROM {own} WHERE user_id = %s) OR "
        f"p.id IN (SELECT gp.permission_id FROM {group_permissions} gp "
        f"JOIN {groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s))"
    )
    params = [part for value in ROLE_PERMISSION.values() for part in value.split(".")]
    return sql, params


def user_by_token(key: str):
    """(user, token) for an API token, the user's roles read with it (one query in all);
    None when no token has this key."""
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    sql, params = _token_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, key])
        row = cursor.fetchone()
    if row is None:
        return None
    user_fields = [field.attname for field in User._meta.concrete_fields]
    count = len(user_fields)
    user = User.from_db(connection.alias, user_fields, row[:count])
    token = Token.from_db(connection.alias, ["key", "user_id", "created"], row[count : count + 3])
    token.user = user
    flags = row[count + 3 :]
    held = {role for role, flag in zip(ROLE_PERMISSION, flags, strict=True) if flag}
    user._railstudio_roles = (
        frozenset() if not user.is_active
        else frozenset(ROLES) if user.is_superuser
        else frozenset(held)
    )  # fmt: skip
    return user, token


@functools.cache
def _token_query() -> tuple[str, list[str]]:
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    permission, content_type = Permission._meta.db_table, ContentType._meta.db_table
    own = User.user_permissions.through._meta.db_table
    groups = User.groups.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    # From the user's few grants to the permission (indexes all the way), and not at all for
    # a superuser or an inactive user (CASE runs only the branch it takes).
    named = (
        f"JOIN {permission} p ON p.id = {{grant}}.permission_id "
        f"JOIN {content_type} ct ON ct.id = p.content_type_id "
        "AND ct.app_label = %s AND p.codename = %s"
    )
    holds = (
        "CASE WHEN NOT u.is_active OR u.is_superuser THEN u.is_superuser ELSE ("
        f"EXISTS (SELECT 1 FROM {own} up {named.format(grant='up')} WHERE up.user_id = u.id) "
        f"OR EXISTS (SELECT 1 FROM {groups} ug JOIN {group_permissions} gp "
        f"ON gp.group_id = ug.group_id {named.format(grant='gp')} WHERE ug.user_id = u.id)) END"
    )
    columns = ", ".join(f"u.{field.column}" for field in User._meta.concrete_fields)
    flags = ", ".join([holds] * len(ROLE_PERMISSION))
    sql = (
        f"SELECT {columns}, t.key, t.user_id, t.created, {flags} "
        f"FROM {Token._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id "
        "WHERE t.key = %s"
    )
    params = [
        part for value in ROLE_PERMISSION.values() for part in value.split(".") * 2
    ]  # each role's (app label, codename) twice: own grants, then the groups'
    return sql, params


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
