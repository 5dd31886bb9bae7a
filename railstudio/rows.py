"""Rows of a model read with written-out SQL, for the API's hottest paths.

Building a query with the ORM costs more Python than PostgreSQL takes to run it (0.2–0.5 ms a
query: the IPAM calls make several). These helpers write each statement once per model and
turn rows into model instances with Model.from_db, as the ORM does; the SQL text never
changes, so PostgreSQL keeps its plan (DB_PREPARE_THRESHOLD).
"""

from __future__ import annotations

import functools

from django.db import connection


@functools.cache
def columns(model) -> tuple[list[str], str]:
    """(attribute names, the SELECT list) of the model's concrete fields."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]
    table = model._meta.db_table
    return names, ", ".join(f'{table}."{field.column}"' for field in fields)


def select(model, where: str, params: list, tail: str = "") -> list:
    """Instances of `model` whose rows meet `where` (SQL over the model's table), then `tail`
    (ORDER BY, LIMIT, FOR ...)."""
    names, select_list = columns(model)
    sql = f"SELECT {select_list} FROM {model._meta.db_table} WHERE {where} {tail}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [model.from_db(connection.alias, names, row) for row in rows]


def by_pk(model, pk: int, *, lock: bool = False):
    """The row with this primary key, or None; with `lock`, locked as planner.locks locks rows
    (FOR NO KEY UPDATE, PostgreSQL; SQLite serialises writers by itself)."""
    tail = "FOR NO KEY UPDATE" if lock and connection.vendor == "postgresql" else ""
    found = select(model, f'{model._meta.db_table}."{model._meta.pk.column}" = %s', [pk], tail)
    return found[0] if found else None
