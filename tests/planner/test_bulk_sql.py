"""planner.bulk_sql sends each column as one array text parameter: what PostgreSQL reads back
from it is exactly what was sent, whatever the strings hold."""

import json

import pytest
from django.db import connection

from planner import bulk_sql

HOSTILE = [
    'a"b',
    "c\\d",
    "{x,y}",
    "NULL",
    None,
    " padded ",
    "ünïcödé",
    "",
    '{"label": "v\\"q"}',
    "tab\tnew\nline",
    "'; DROP TABLE planner_nodenic; --",
]


def _read_back(literal: str, kind: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]", [literal])
        return cursor.fetchone()[0]


def test_integers_are_joined_as_they_are():
    assert bulk_sql.array_literal([3, 1, 2]) == "{3,1,2}"
    assert bulk_sql.array_literal([]) == "{}"
    assert bulk_sql.array_literal(iter([7])) == "{7}"


def test_other_types_are_refused_rather_than_guessed():
    with pytest.raises(TypeError, match="float"):
        bulk_sql.array_literal([1.5])


def test_strings_and_nulls_read_back_exactly(require_postgres):
    assert _read_back(bulk_sql.array_literal(HOSTILE), "text") == HOSTILE


def test_integers_with_nulls_and_big_values_read_back_exactly(require_postgres):
    values = [0, -1, None, 2**63 - 1, 168951808]
    assert _read_back(bulk_sql.array_literal(values), "bigint") == values


def test_json_labels_read_back_as_the_same_documents(require_postgres):
    documents = ['{"zone": "a", "quote": "\\"", "slash": "\\\\"}', "{}", None]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb[]::text[]", [bulk_sql.array_literal(documents)])
        read = cursor.fetchone()[0]
    assert [None if d is None else json.loads(d) for d in read] == [
        None if d is None else json.loads(d) for d in documents
    ]
