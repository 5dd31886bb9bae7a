"""Bulk writes on PostgreSQL with one array parameter per column: `INSERT ... SELECT * FROM
UNNEST(arrays)` and `UPDATE ... FROM UNNEST(arrays)`, one statement per batch, no model object
per row.

Django's bulk_update writes `CASE WHEN id = ... THEN ...` per column, which PostgreSQL
evaluates branch by branch for every row: a batch of 5,000 rows costs 5,000² comparisons per
column (seconds). A join on the unnested arrays costs one hash lookup per row.

Each array goes as one text parameter in PostgreSQL's array syntax (array_literal): psycopg
dumps a Python list element by element in Python, which cost 1.7 ms for two lists of 1,000
integers where the joined text costs 0.1 ms.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def insert_rows(model, columns: Sequence[tuple[str, str]], rows: list[tuple], batch_size: int,
                after_batch=None) -> bool:  # fmt: skip
    """Insert `rows` (one value per (column, PostgreSQL type) of `columns`); `after_batch(n)`
    once n rows are in. False, writing nothing, on a database other than PostgreSQL."""
    names = ", ".join(name for name, _ in columns)
    sql = f"INSERT INTO {model._meta.db_table} ({names}) SELECT * FROM UNNEST({_arrays(columns)})"
    return _run(sql, rows, batch_size, after_batch)


# The rows to update found by their ids in the primary key, then joined to the unnested
# values (parameter: the ids again). Without the ANY, PostgreSQL joins by hashing the whole
# table: an UPDATE of 1,000 rows of a 48,000-row table took 12 ms, with it 4 ms.
JOIN_BY_ID = "{alias}.id = given.id AND {alias}.id = ANY(%s::bigint[])"


def update_rows(model, columns: Sequence[tuple[str, str]], rows: list[tuple], batch_size: int):
    """Write `rows` (each: the id, then one value per column after the first of `columns`, a
    (column, PostgreSQL type) list that starts with the id). False, writing nothing, on a
    database other than PostgreSQL: the caller falls back to Django's bulk_update."""
    names = [name for name, _ in columns]
    assignments = ", ".join(f"{name} = given.{name}" for name in names[1:])
    sql = (
        f"UPDATE {model._meta.db_table} AS target SET {assignments} "
        f"FROM UNNEST({_arrays(columns)}) AS given ({', '.join(names)}) "
        f"WHERE {JOIN_BY_ID.format(alias='target')}"
    )
    return _run(sql, rows, batch_size, ids_again=True)


def array_literal(values) -> str:
    """A column of integers, strings or None as PostgreSQL array text: `'{1,2,NULL}'`, strings
    quoted and escaped, for a `%s::type[]` parameter."""
    values = list(values)
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join(map(_element, values)) + "}"


def _element(value) -> str:
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no array text for {type(value).__name__}")


def _arrays(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"%s::{kind}[]" for _, kind in columns)


def _run(sql: str, rows: list[tuple], batch_size: int, after_batch=None, ids_again=False) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            arrays = [array_literal(column) for column in zip(*batch, strict=True)]
            cursor.execute(sql, [*arrays, arrays[0]] if ids_again else arrays)
            if after_batch:
                after_batch(start + len(batch))
    return True
