"""A plan's content revision: `Plan.revision` moves on with every write to the plan, its rails,
exclusions, nodes or NICs, whoever writes (a model save, bulk_create, queryset.update(), a raw
UPDATE, a delete or a cascade).

Database triggers keep it, so no writer can forget it: statement-level triggers with transition
tables on PostgreSQL (one plan update per statement, whatever its row count), row triggers on
SQLite. A plan row updated with a revision not above the stored one (a save of an instance read
earlier) takes the stored one plus one, so a revision never goes back. Revisions start at a
random number, so (plan id, revision) never names two contents, even across a database that was
recreated under a cache that was not.

The triggers are (re)installed after every `migrate` (planner.apps), because SQLite drops a
table's triggers when a later migration rebuilds that table.
"""

from __future__ import annotations

import secrets

from django.db import connection as default_connection

# (table, how a row names its plan): "plan" rows carry plan_id, "rail" rows carry rail_id.
CHILD_TABLES = (
    ("planner_rail", "plan"),
    ("planner_node", "plan"),
    ("planner_exclusion", "rail"),
    ("planner_nodenic", "rail"),
)
EVENTS = ("INSERT", "UPDATE", "DELETE")


def initial_revision() -> int:
    return secrets.randbits(62)


def current(plan_id: int) -> int | None:
    from planner.models import Plan

    return Plan.objects.filter(pk=plan_id).values_list("revision", flat=True).first()


def _plan_ids(rows: str, via: str) -> str:
    if via == "plan":
        return f"SELECT plan_id FROM {rows}"
    return f"SELECT plan_id FROM planner_rail WHERE id IN (SELECT rail_id FROM {rows})"


def _postgresql_function() -> str:
    branches = []
    for via in ("plan", "rail"):
        new, old = _plan_ids("new_rows", via), _plan_ids("old_rows", via)
        branches.append(
            f"""IF TG_ARGV[0] = '{via}' THEN
            IF TG_OP = 'INSERT' THEN
                UPDATE planner_plan SET revision = revision + 1 WHERE id IN ({new});
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE planner_plan SET revision = revision + 1 WHERE id IN ({old});
            ELSE
                UPDATE planner_plan SET revision = revision + 1
                    WHERE id IN ({new} UNION {old});
            END IF;
        END IF;"""
        )
    body = "\n        ".join(branches)
    return f"""CREATE OR REPLACE FUNCTION planner_bump_revision() RETURNS trigger AS $$
    BEGIN
        {body}
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""


PLAN_FUNCTION_POSTGRESQL = """CREATE OR REPLACE FUNCTION planner_plan_revision() RETURNS trigger AS $$
    BEGIN
        IF NEW.revision <= OLD.revision THEN
            NEW.revision := OLD.revision + 1;
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql"""


def postgresql_statements() -> list[str]:
    statements = [_postgresql_function(), PLAN_FUNCTION_POSTGRESQL]
    statements.append("DROP TRIGGER IF EXISTS planner_plan_revision ON planner_plan")
    statements.append(
        "CREATE TRIGGER planner_plan_revision BEFORE UPDATE ON planner_plan "
        "FOR EACH ROW EXECUTE FUNCTION planner_plan_revision()"
    )
    for table, via in CHILD_TABLES:
        for event in EVENTS:
            name = f"{table}_revision_{event.lower()}"
            tables = {
                "INSERT": "NEW TABLE AS new_rows",
                "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                "DELETE": "OLD TABLE AS old_rows",
            }[event]
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION planner_bump_revision('{via}')"
            )
    return statements


def _sqlite_plan_id(row: str, via: str) -> str:
    if via == "plan":
        return f"{row}.plan_id"
    return f"(SELECT plan_id FROM planner_rail WHERE id = {row}.rail_id)"


def sqlite_statements() -> list[str]:
    statements = [
        "DROP TRIGGER IF EXISTS planner_plan_revision",
        "CREATE TRIGGER planner_plan_revision AFTER UPDATE ON planner_plan "
        "WHEN NEW.revision <= OLD.revision BEGIN "
        "UPDATE planner_plan SET revision = OLD.revision + 1 WHERE id = NEW.id; END",
    ]
    for table, via in CHILD_TABLES:
        for event in EVENTS:
            name = f"{table}_revision_{event.lower()}"
            rows = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
            ids = ", ".join(_sqlite_plan_id(row, via) for row in rows)
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
                f"UPDATE planner_plan SET revision = revision + 1 WHERE id IN ({ids}); END"
            )
    return statements


def install_triggers(connection=None) -> None:
    connection = connection or default_connection
    if connection.vendor == "postgresql":
        statements = postgresql_statements()
    elif connection.vendor == "sqlite":
        statements = sqlite_statements()
    else:
        raise NotImplementedError(f"plan revisions need triggers on {connection.vendor}")
    tables = set(connection.introspection.table_names())
    if not {"planner_plan", *(table for table, _ in CHILD_TABLES)} <= tables:
        return
    columns = {
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), "planner_plan"
        )
    }
    if "revision" not in columns:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install_after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    install_triggers(connections[using])
