"""The database triggers that keep planner_freespacehint true on PostgreSQL.

A hint says "no free address of this rail lies below `low`". Taking addresses never breaks
that; setting one free may. So every write that can set an address free records it, in the
same transaction, as a new row at the freed address: a NIC deleted or its host IP changed, an
exclusion deleted or changed, a rail's subnet or pod range changed (from 0: anything may be
free). The triggers only insert (no row lock is waited for, whatever the writer holds); the
allocator, which holds the rail's lock, deletes the rows it read (planner.allocation). A
deleted rail's rows go with it.

Installed after every migrate, like planner.revisions; SQLite keeps no hints (planner.freespace
then starts at the range's start).
"""

from __future__ import annotations

from django.db import connection as default_connection

from planner.models import Exclusion, FreeSpaceHint, NodeNIC, Rail

HINTS = FreeSpaceHint._meta.db_table
NICS, EXCLUSIONS, RAILS = NodeNIC._meta.db_table, Exclusion._meta.db_table, Rail._meta.db_table

# function name -> body (plpgsql statements), for statement-level triggers with transition tables
FUNCTIONS = {
    "planner_hint_nic_deleted": f"""
        INSERT INTO {HINTS} (rail_id, low)
        SELECT rail_id, min(host_int) FROM old_rows WHERE host_int IS NOT NULL GROUP BY rail_id;""",
    # An allocation's UPDATE (old host_int NULL) skips the join after one look at old_rows.
    "planner_hint_nic_updated": f"""
        IF EXISTS (SELECT 1 FROM old_rows WHERE host_int IS NOT NULL) THEN
            INSERT INTO {HINTS} (rail_id, low)
            SELECT o.rail_id, min(o.host_int) FROM old_rows o JOIN new_rows n ON n.id = o.id
             WHERE o.host_int IS NOT NULL
               AND (n.host_int IS DISTINCT FROM o.host_int OR n.rail_id <> o.rail_id)
             GROUP BY o.rail_id;
        END IF;""",
    "planner_hint_exclusion_changed": f"""
        INSERT INTO {HINTS} (rail_id, low)
        SELECT rail_id, min(first_int) FROM old_rows WHERE first_int IS NOT NULL
         GROUP BY rail_id;""",
    "planner_hint_rail_updated": f"""
        INSERT INTO {HINTS} (rail_id, low)
        SELECT n.id, 0 FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (n.subnet, n.range_start, n.range_end)
               IS DISTINCT FROM (o.subnet, o.range_start, o.range_end);""",
    "planner_hint_rail_deleted": f"""
        DELETE FROM {HINTS} WHERE rail_id IN (SELECT id FROM old_rows);""",
}

TRANSITION_TABLES = {
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}

# (trigger, table, event, function)
TRIGGERS = (
    ("planner_nodenic_hint_delete", NICS, "DELETE", "planner_hint_nic_deleted"),
    ("planner_nodenic_hint_update", NICS, "UPDATE", "planner_hint_nic_updated"),
    ("planner_exclusion_hint_delete", EXCLUSIONS, "DELETE", "planner_hint_exclusion_changed"),
    ("planner_exclusion_hint_update", EXCLUSIONS, "UPDATE", "planner_hint_exclusion_changed"),
    ("planner_rail_hint_update", RAILS, "UPDATE", "planner_hint_rail_updated"),
    ("planner_rail_hint_delete", RAILS, "DELETE", "planner_hint_rail_deleted"),
)


def statements() -> list[str]:
    created = [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN {body}\n"
        "RETURN NULL; END $$ LANGUAGE plpgsql"
        for name, body in FUNCTIONS.items()
    ]
    for trigger, table, event, function in TRIGGERS:
        created.append(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        created.append(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
            f"REFERENCING {TRANSITION_TABLES[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
    return created


def install(connection=None) -> None:
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return
    if not {HINTS, NICS, EXCLUSIONS, RAILS} <= set(connection.introspection.table_names()):
        return
    with connection.cursor() as cursor:
        for statement in statements():
            cursor.execute(statement)


def drop(connection=None) -> None:
    """What migrating back before the hints table needs first."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for trigger, table, _, _ in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")


def install_after_migrate(sender, using, **kwargs) -> None:
    from django.db import connections

    install(connections[using])
