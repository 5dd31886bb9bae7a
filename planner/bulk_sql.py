"""Bulk UPDATE by id on PostgreSQL: one `UPDATE ... FROM UNNEST(arrays)` per batch.

Django's bulk_update writes `CASE WHEN id = ... THEN ...` per column, which PostgreSQL
evaluates branch by branch for every row: a batch of 5,000 rows costs 5,000² comparisons per
column (seconds). A join on the unnested arrays costs one hash lookup per row.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def update_rows(model, columns: Sequence[tuple[str, str]], rows: list[tuple], batch_size: int):
    """Write `rows` (each: the id, then one value per column after the first of `columns`, a
    (column, PostgreSQL type) list that starts with the id). False, writing nothing, on a
    database other than PostgreSQL: the caller falls back to Django's bulk_update."""
    if connection.vendor != "postgresql":
        return False
    if not rows:
        return True
    names = [name for name, _ in columns]
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    assignments = ", ".join(f"{name} = given.{name}" for name in names[1:])
    sql = (
        f"UPDATE {model._meta.db_table} AS target SET {assignments} "
        f"FROM UNNEST({arrays}) AS given ({', '.join(names)}) WHERE target.id = given.id"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
    return True
