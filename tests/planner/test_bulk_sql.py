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


def _nic_rows_joined(plan: dict) -> int:
    """Rows the plan's scans of planner_nodenic passed on to the join (after their filters)."""
    joined = plan.get("Actual Rows", 0) if "Scan" in plan["Node Type"] else 0
    joined = joined if plan.get("Relation Name") == "planner_nodenic" else 0
    return joined + sum(_nic_rows_joined(child) for child in plan.get("Plans", []))


def test_an_allocation_reads_only_the_rows_it_writes(require_postgres):
    """The allocator's UPDATE joins only the NICs it writes: PostgreSQL had hashed the whole NIC
    table to join 1,000 ids (12 ms at 48,000 NICs; 4 ms when the ids are looked up first)."""
    from planner import allocation
    from planner.models import Node, NodeNIC, Plan, Rail

    plan = Plan.objects.create(name="Wide", slug="wide")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.88.0.0/16")
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"n{i:05d}") for i in range(6000))
    NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for node in nodes)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE planner_nodenic")
    ids = [nic_id for nic_id, _ in allocation.unaddressed(rail, count=600)]
    numbers = list(range(ipam_int("10.88.1.0"), ipam_int("10.88.1.0") + 600))
    captured = []
    with connection.execute_wrapper(lambda execute, sql, params, many, context: captured.append(
        (sql, params)) or execute(sql, params, many, context)):  # fmt: skip
        allocation.write_addresses(ids, [""] * 600, numbers, ("", []))
    [(sql, params)] = captured
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        explained = cursor.fetchone()[0][0]["Plan"]
    assert _nic_rows_joined(explained) == 600, explained
    assert NodeNIC.objects.filter(rail=rail, host_int__isnull=False).count() == 600


def ipam_int(address: str) -> int:
    from planner import ipam

    return ipam.ip_to_int(address)
