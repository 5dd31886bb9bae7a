"""A plan's content revision: a value that changes with every committed write to the plan, its
rails, exclusions, nodes or NICs, whoever writes (a model save, bulk_create, queryset.update(),
a raw UPDATE, a delete or a cascade). planner.plancache keys what it keeps by (plan id,
revision).

Database triggers keep it, so no writer can forget it, in a table of its own,
`planner_planchange`: a writing transaction adds one row (plan id, random 63-bit token) per plan
it touches and removes that plan's older rows. The revision is the plan's tokens in row order.
Each commit brings a token never seen before, so a revision never comes back: not after a
rollback (a result cached from uncommitted rows is never asked for again), not across a
database recreated under a cache that was not, and not when two writers commit out of order.

Writers only ever insert rows there (and delete older ones with SKIP LOCKED), so they never wait
for each other on it and the lock order of planner.locks (plan row, then rail rows) is kept: no
trigger touches the plan row.

- PostgreSQL: statement-level triggers with transition tables; a transaction records each plan
  once (a transaction-local setting remembers it), however many statements it runs. The same
  setting tells `current()` that this transaction has written the plan: the cache neither
  reads nor keeps anything for it until the transaction ends.
- SQLite: row triggers replace the plan's row at every write.

The triggers are (re)installed after every `migrate` (planner.apps), because SQLite drops a
table's triggers when a later migration rebuilds that table.
"""

from __future__ import annotations

import hashlib

from django.db import connection as default_connection

# (table, how a row names its plan): "self" rows are plans, "plan" rows carry plan_id,
# "rail" rows carry rail_id.
TABLES = (
    ("planner_plan", "self"),
    ("planner_rail", "plan"),
    ("planner_node", "plan"),
    ("planner_exclusion", "rail"),
    ("planner_nodenic", "rail"),
)
EVENTS = ("INSERT", "UPDATE", "DELETE")
TOKEN_POSTGRESQL = "(random() * 9.2e18)::bigint"
TOKEN_SQLITE = "abs(random() % 9223372036854775807)"
CHANGED_SETTING = "planner_revision.changed"  # PostgreSQL: plans this session changed


def current(plan_id: int, connection=None) -> tuple[str | None, bool]:
    """(the plan's revision, whether this transaction has written the plan); (None, False)
    for a plan with no recorded change (gone, or never written since planner 0004)."""
    connection = connection or default_connection
    dirty = "false"
    if connection.vendor == "postgresql":
        dirty = "coalesce(current_setting('planner_revision.p' || %s::text, true) = '1', false)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT token, {dirty} FROM planner_planchange WHERE plan_id = %s ORDER BY id",
            [plan_id, plan_id] if connection.vendor == "postgresql" else [plan_id],
        )
        rows = cursor.fetchall()
    if not rows:
        return None, False
    tokens = ".".join(str(token) for token, _ in rows)
    return hashlib.sha256(tokens.encode()).hexdigest()[:32], bool(rows[0][1])


def take_session_changes(connection=None) -> list[int]:
    """PostgreSQL: the plans this connection's committed transactions changed since the last
    call, read and forgotten in one statement (the triggers note them for the session)."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH noted AS (SELECT current_setting(%s, true) AS plans) "
            "SELECT plans, set_config(%s, '', false) FROM noted",
            [CHANGED_SETTING, CHANGED_SETTING],
        )
        noted = cursor.fetchone()[0] or ""
    return sorted({int(plan) for plan in noted.split(",") if plan})


def _plan_ids(rows: str, via: str) -> str:
    if via == "self":
        return f"SELECT id AS plan_id FROM {rows}"
    if via == "plan":
        return f"SELECT plan_id FROM {rows}"
    return f"SELECT plan_id FROM planner_rail WHERE id IN (SELECT rail_id FROM {rows})"


def _postgresql_function(via: str) -> str:
    new, old = _plan_ids("new_rows", via), _plan_ids("old_rows", via)
    return f"""CREATE OR REPLACE FUNCTION planner_record_change_{via}() RETURNS trigger AS $$
    DECLARE
        plans bigint[];
        plan bigint;
        added bigint;
        noted text;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({new}) AS changed;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({old}) AS changed;
        ELSE
            SELECT array_agg(DISTINCT plan_id) INTO plans FROM ({new} UNION {old}) AS changed;
        END IF;
        FOREACH plan IN ARRAY coalesce(plans, ARRAY[]::bigint[]) LOOP
            IF current_setting('planner_revision.p' || plan, true) IS DISTINCT FROM '1' THEN
                INSERT INTO planner_planchange (plan_id, token)
                    VALUES (plan, {TOKEN_POSTGRESQL}) RETURNING id INTO added;
                DELETE FROM planner_planchange WHERE id IN (
                    SELECT id FROM planner_planchange WHERE plan_id = plan AND id < added
                    FOR UPDATE SKIP LOCKED);
                PERFORM set_config('planner_revision.p' || plan, '1', true);
                -- For the session (undone if the transaction rolls back): what this connection
                -- has committed since it last asked (planner.warming). Each plan once, so a
                -- connection that never asks (a worker's) keeps a list no longer than its plans.
                noted := coalesce(current_setting('{CHANGED_SETTING}', true), '');
                IF position(',' || plan || ',' IN ',' || noted) = 0 THEN
                    PERFORM set_config('{CHANGED_SETTING}', noted || plan || ',', false);
                END IF;
            END IF;
        END LOOP;
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""


TRANSITION_TABLES = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def _trigger_names() -> list[tuple[str, str]]:
    return [(f"{table}_revision_{event.lower()}", table) for table, _ in TABLES for event in EVENTS]


def postgresql_statements() -> list[str]:
    statements = [_postgresql_function(via) for via in ("self", "plan", "rail")]
    for table, via in TABLES:
        for event in EVENTS:
            name = f"{table}_revision_{event.lower()}"
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"REFERENCING {TRANSITION_TABLES[event]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION planner_record_change_{via}()"
            )
    return statements


def _sqlite_plan_id(row: str, via: str) -> str:
    if via == "self":
        return f"{row}.id"
    if via == "plan":
        return f"{row}.plan_id"
    return f"(SELECT plan_id FROM planner_rail WHERE id = {row}.rail_id)"


def sqlite_statements() -> list[str]:
    statements = []
    for table, via in TABLES:
        for event in EVENTS:
            name = f"{table}_revision_{event.lower()}"
            rows = {"INSERT": ["NEW"], "UPDATE": ["NEW", "OLD"], "DELETE": ["OLD"]}[event]
            body = ""
            for row in rows:
                plan = _sqlite_plan_id(row, via)
                body += (
                    f"DELETE FROM planner_planchange WHERE plan_id = {plan}; "
                    f"INSERT INTO planner_planchange (plan_id, token) "
                    f"SELECT {plan}, {TOKEN_SQLITE} WHERE {plan} IS NOT NULL; "
                )
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
            statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {body}END")
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
    if not {"planner_planchange", *(table for table, _ in TABLES)} <= tables:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install_after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    install_triggers(connections[using])


def drop_triggers(connection=None) -> None:
    """What migrating back before planner 0004 needs first: no trigger records a change."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        for name, table in _trigger_names():
            on = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


def record_existing_plans(connection=None) -> None:
    """One change row for every plan that has none (plans from before planner 0004)."""
    connection = connection or default_connection
    token = TOKEN_POSTGRESQL if connection.vendor == "postgresql" else TOKEN_SQLITE
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO planner_planchange (plan_id, token) SELECT id, {token} "
            "FROM planner_plan WHERE id NOT IN (SELECT plan_id FROM planner_planchange)"
        )
