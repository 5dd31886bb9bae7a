"""Host-IP allocation: the writer of NodeNIC.host_ip for addresses it picks itself.

Each allocation locks its rail rows (planner.locks: the row only, rails in index order, never
the plan), asks the database for the rail's lowest free addresses (planner.freespace, from the
rail's free-space hint on) and for as many unaddressed NICs as it needs, and writes the new
addresses (text and integer) and the rail's new hint in one statement per batch. A NIC given a host IP by hand (API, import) takes the same rail lock first.
The unique constraint (rail, host_ip) is the last line of defence: no address is ever handed out
twice.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from django.db import connection, transaction

from planner import bulk_sql, freespace, ipam, locks
from planner.models import Node, NodeNIC, Plan, Rail


class NoRoom(Exception):
    """The rail has fewer free addresses than asked for; nothing was allocated."""


class NotEnoughNICs(Exception):
    """Fewer NICs without a host IP than addresses asked for; nothing was allocated."""


class Allocation(NamedTuple):  # a tuple: a thousand are made per request, cheaply
    nic_id: int
    node: str
    address: str

    def to_dict(self) -> dict:
        return {"nic": self.nic_id, "node": self.node, "address": self.address}


WRITE_BATCH = 1000


def write_addresses(nic_ids: list[int], addresses: list[str], numbers: list[int] | None,
           prefix: tuple[str, list]) -> None:  # fmt: skip
    """Give each NIC its address (`numbers`: the same addresses as integers, IPv4 only), in one
    statement per batch on PostgreSQL; `prefix` (a CTE and its parameters,
    planner.freespace.hint_statement) rides on the first."""
    table = NodeNIC._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(
                f"UPDATE {table} SET host_ip = %s, host_int = %s WHERE id = %s",
                zip(addresses, numbers or [None] * len(addresses), nic_ids, strict=True),
            )
            return
        if numbers is not None:  # the database writes the address from its integer
            sql = (
                "host_ip = inet '0.0.0.0' + given.value, host_int = given.value "
                "FROM UNNEST(%s::bigint[], %s::bigint[]) AS given (id, value)"
            )
        else:
            sql = (
                "host_ip = CAST(given.value AS inet), host_int = NULL "
                "FROM UNNEST(%s::bigint[], %s::text[]) AS given (id, value)"
            )
        values = addresses if numbers is None else numbers
        by_id = bulk_sql.JOIN_BY_ID.format(alias="nic")
        for start in range(0, len(nic_ids), WRITE_BATCH):
            cte, params = prefix if start == 0 else ("", [])
            batch = slice(start, start + WRITE_BATCH)
            ids = bulk_sql.array_literal(nic_ids[batch])
            cursor.execute(
                f"{cte}UPDATE {table} AS nic SET {sql} WHERE {by_id}",
                [*params, ids, bulk_sql.array_literal(values[batch]), ids],
            )


def _assign(rail: Rail, nics: list[tuple[int, str]], count: int) -> list[Allocation]:
    spans, seen_hints = freespace.lowest_free(rail, count)
    if ipam.size(spans) < count:
        free = rail.space().usage().free
        raise NoRoom(
            f"Rail {rail.index} ({rail.subnet}) has {free} free addresses; {count} were asked for."
        )
    version = 4 if freespace.is_v4(rail) else 6
    numbers = [ip for first, last in spans for ip in range(first, last + 1)]
    addresses = ipam.expand(spans, version)
    write_addresses(
        [nic_id for nic_id, _ in nics],
        addresses,
        numbers if version == 4 else None,
        freespace.hint_statement(rail, seen_hints, numbers[-1] + 1) if numbers else ("", []),
    )
    return [
        Allocation(nic_id, node, address)
        for address, (nic_id, node) in zip(addresses, nics, strict=True)
    ]


UNADDRESSED_SQL = (
    f"SELECT nic.id, node.name FROM {NodeNIC._meta.db_table} nic "
    f"JOIN {Node._meta.db_table} node ON node.id = nic.node_id "
    "WHERE nic.rail_id = %s AND nic.host_ip IS NULL {only} ORDER BY nic.node_id, nic.id {limit}"
)


def unaddressed(
    rail: Rail, nic_ids: list[int] | None = None, count: int | None = None
) -> list[tuple[int, str]]:
    """NICs of the rail without a host IP, in the order their nodes were added (then NIC id):
    an index walk (nic_unaddressed) that stops after `count`, however full the rail."""
    params: list = [rail.pk]
    only = limit = ""
    if nic_ids is not None:
        # One parameter however many ids (PostgreSQL takes at most 65,535 per statement).
        if connection.vendor == "postgresql":
            only = "AND nic.id = ANY(%s::bigint[])"
            params.append(bulk_sql.array_literal(sorted(set(nic_ids))))
        else:
            only = "AND nic.id IN (SELECT value FROM json_each(%s))"
            params.append(json.dumps(sorted(set(nic_ids))))
    if count is not None:
        limit = "LIMIT %s"
        params.append(count)
    with connection.cursor() as cursor:
        cursor.execute(UNADDRESSED_SQL.format(only=only, limit=limit), params)
        return cursor.fetchall()


def allocate_on_rail(
    rail_id: int, count: int, nic_ids: list[int] | None = None
) -> list[Allocation]:
    """Give `count` NICs of the rail without a host IP (in node order) the lowest free addresses."""
    with transaction.atomic():
        return allocate_on_locked_rail(locks.lock_rail(rail_id), count, nic_ids)


def allocate_on_locked_rail(
    rail: Rail, count: int, nic_ids: list[int] | None = None
) -> list[Allocation]:
    """allocate_on_rail for a rail the caller locked (planner.locks) in its open transaction."""
    nics = unaddressed(rail, nic_ids, count)
    if len(nics) < count:
        raise NotEnoughNICs(
            f"Only {len(nics)} NICs on rail {rail.index} lack a host IP; {count} were asked for."
        )
    return _assign(rail, nics, count)


def allocate_plan(plan: Plan) -> dict[int, int]:
    """Address every NIC of the plan that has no host IP; returns {rail index: addresses given}.

    All rails or none: a rail without room rolls the whole call back.
    """
    given: dict[int, int] = {}
    with transaction.atomic():
        for rail in locks.lock_plan_rails(plan.pk):
            nics = unaddressed(rail)
            given[rail.index] = len(_assign(rail, nics, len(nics))) if nics else 0
    return given
