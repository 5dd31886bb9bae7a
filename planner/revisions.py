"""A plan's content revision: `Plan.revision` takes a value never used before with every write to
the plan, its rails, exclusions, nodes or NICs, whoever writes (a model save, bulk_create,
queryset.update(), a raw UPDATE, a delete or a cascade). planner.plancache keys what it keeps
by (plan id, revision).

Database triggers keep it, so no writer can forget it. Values are never reused, not even after a
rollback (a result cached from uncommitted rows is then never asked for), nor across a database
recreated under a cache that was not: new plans start at a random 62-bit number, PostgreSQL
takes the next value of a sequence started at a random number, SQLite a random 63-bit number.

- PostgreSQL: a plan row updated directly gets the next value (a BEFORE UPDATE trigger, so a
  save of an instance read earlier never puts an older value back); writes to the other tables
  (statement-level triggers with transition tables) move each plan they touch once per
  transaction: readers only see committed states, and updating one row thousands of times in
  one transaction (an import writing NIC by NIC) would grow its version chain and slow every
  further update. A transaction-local setting remembers which plans moved: `current()` reports
  them, and the cache neither reads nor keeps anything for them until the transaction ends.
- SQLite: row triggers move the plan at every write.

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
SQLITE_NEW_REVISION = "abs(random() % 9223372036854775807)"


def initial_revision() -> int:
    return secrets.randbits(62)


def current(plan_id: int, connection=None) -> tuple[int | None, bool]:
    """(the plan's revision, whether this transaction has written the plan); (None, False)
    when there is no such plan."""
    connection = connection or default_connection
    dirty = "false"
    if connection.vendor == "postgresql":
        dirty = "coalesce(current_setting('planner_revision.p' || id::text, true) = '1', false)"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT revision, {dirty} FROM planner_plan WHERE id = %s", [plan_id])
        row = cursor.fetchone()
    return (row[0], bool(row[1])) if row else (None, False)


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
                SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({new}) AS changed;
            ELSIF TG_OP = 'DELETE' THEN
                SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({old}) AS changed;
            ELSE
                SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({new} UNION {old}) AS changed;
            END IF;
        END IF;"""
        )
    body = "\n        ".join(branches)
    return f"""CREATE OR REPLACE FUNCTION planner_bump_revision() RETURNS trigger AS $$
    DECLARE
        plans bigint[];
        plan bigint;
    BEGIN
        {body}
        FOREACH plan IN ARRAY coalesce(plans, ARRAY[]::bigint[]) LOOP
            IF current_setting('planner_revision.p' || plan, true) IS DISTINCT FROM '1' THEN
                UPDATE planner_plan SET revision = revision WHERE id = plan;
            END IF;
        END LOOP;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""


PLAN_FUNCTION_POSTGRESQL = """CREATE OR REPLACE FUNCTION planner_plan_revision() RETURNS trigger AS $$
    BEGIN
        NEW.revision := nextval('planner_revision_seq');
        PERFORM set_config('planner_revision.p' || NEW.id, '1', true);
        RETURN NEW;
    END $$ LANGUAGE plpgsql"""


def postgresql_statements() -> list[str]:
    statements = [
        "CREATE SEQUENCE IF NOT EXISTS planner_revision_seq AS bigint "
        f"START WITH {initial_revision()}",
        _postgresql_function(),
        PLAN_FUNCTION_POSTGRESQL,
    ]
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
        "CREATE TRIGGER planner_plan_revision AFTER UPDATE ON planner_plan BEGIN "
        f"UPDATE planner_plan SET revision = {SQLITE_NEW_REVISION} WHERE id = NEW.id; END",
    ]
    for table, via in CHILD_TABLES:
        for event in EVENTS:
            name = f"{table}_revision_{event.lower()}"
            rows = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
            ids = ", ".join(_sqlite_plan_id(row, via) for row in rows)
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
                f"UPDATE planner_plan SET revision = {SQLITE_NEW_REVISION} WHERE id IN ({ids}); END"
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


def drop_triggers(connection=None) -> None:
    """What migrating back before planner 0003 needs first: no trigger writes a revision."""
    connection = connection or default_connection
    names = [("planner_plan_revision", "planner_plan")] + [
        (f"{table}_revision_{event.lower()}", table)
        for table, _ in CHILD_TABLES
        for event in EVENTS
    ]
    with connection.cursor() as cursor:
        for name, table in names:
            on = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")
