"""A rail's free space and overlaps asked of the database, on the integer address columns.

IPv4 rails store every exclusion's bounds and every host IP as integers (Exclusion.first_int,
last_int, NodeNIC.host_int) under (rail, ...) indexes, so the lowest free addresses are one
gap query (window functions over the sorted taken ranges, LIMIT what was asked) and an overlap
is one indexed range query: neither reads the rail into Python. On PostgreSQL the gap query
starts at the rail's free-space hint (planner.free_hints: no free address lies below it), so a
rail with 5,000 addresses given costs what an empty one does. IPv6 rails have no integer
columns (128 bits fit no portable integer type) and take RailSpace's span arithmetic instead.
"""

from __future__ import annotations

import functools

from django.db import connection

from planner import bulk_sql, ipam
from planner.models import Exclusion, FreeSpaceHint, NodeNIC, Rail
from railstudio import rows

EXCLUSIONS = Exclusion._meta.db_table
NICS = NodeNIC._meta.db_table
HINTS = FreeSpaceHint._meta.db_table
RAILS = Rail._meta.db_table

# The free runs inside [low, high] (the `bounds` CTE): the taken ranges in order, and where each
# run of them ends. Parameters: the rail id twice (exclusions, host IPs).
GAP_EDGES = f"""
taken (low, high) AS (
    SELECT first_int, last_int FROM {EXCLUSIONS}
     WHERE rail_id = %s AND first_int <= (SELECT high FROM bounds)
       AND last_int >= (SELECT low FROM bounds)
    UNION ALL
    SELECT host_int, host_int FROM {NICS}
     WHERE rail_id = %s AND host_int >= (SELECT low FROM bounds)
       AND host_int <= (SELECT high FROM bounds)
    UNION ALL SELECT low - 1, low - 1 FROM bounds
    UNION ALL SELECT high + 1, high + 1 FROM bounds
), edges AS (
    SELECT low, high, MAX(high) OVER sorted AS reach, LEAD(low) OVER sorted AS next_low
      FROM taken
    WINDOW sorted AS (ORDER BY low, high ROWS UNBOUNDED PRECEDING)
)"""
# A gap that holds an aligned block (parameters: the block size four times; 1: any gap).
HOLDS_BLOCK = "next_low > reach + 1 AND (reach + %s) / %s * %s + %s <= next_low"

# {low} is where the search starts (the span's start, or on PostgreSQL the rail's free-space
# hint above it), {seen} the hint rows read (for the allocator).
GAPS_SQL = (
    "WITH bounds AS (SELECT {low} AS low, CAST(%s AS BIGINT) AS high), "
    + GAP_EDGES.replace("{", "{{").replace("}", "}}")
    + " SELECT reach + 1, next_low - 1, {seen} FROM edges"
    + f" WHERE {HOLDS_BLOCK} ORDER BY low, high LIMIT %s"
)
PLAIN_GAPS_SQL = GAPS_SQL.format(low="CAST(%s AS BIGINT)", seen="NULL")
HINTED_GAPS_SQL = GAPS_SQL.format(
    low=f"GREATEST(CAST(%s AS BIGINT), (SELECT min(low) FROM {HINTS} WHERE rail_id = %s))",
    seen=f"(SELECT array_agg(id) FROM {HINTS} WHERE rail_id = %s)",
)

# A block search from the hint when it lies inside the pod range (from where the range's run of
# taken addresses ends: never past the range's end), else from the subnet's start.
BLOCK_GAPS_SQL = GAPS_SQL.format(
    low=f"(SELECT CASE WHEN min(low) > %s THEN LEAST(min(low), %s) ELSE CAST(%s AS BIGINT) END "
    f"FROM {HINTS} WHERE rail_id = %s)",
    seen="NULL",
)


@functools.cache
def rail_gaps_sql() -> str:
    """The rail's row, then one row per free run from its hint on (none: the row once with
    NULLs), bounded by the pod range stored on the rail. Parameters: the rail id four times,
    HOLDS_BLOCK's four, the limit."""
    _, rail_columns = rows.columns(Rail)
    return (
        f"WITH rail AS (SELECT {rail_columns} FROM {RAILS} WHERE {RAILS}.id = %s), "
        f"bounds AS (SELECT GREATEST(pod_first_int, (SELECT min(low) FROM {HINTS} "
        "WHERE rail_id = %s)) AS low, pod_last_int AS high FROM rail), "
        f"{GAP_EDGES} SELECT rail.*, gap.first, gap.last FROM rail LEFT JOIN ("
        "SELECT reach + 1 AS first, next_low - 1 AS last, low, high FROM edges "
        f"WHERE {HOLDS_BLOCK} ORDER BY low, high LIMIT %s) AS gap ON true "
        "ORDER BY gap.low, gap.high"
    )


def is_v4(rail: Rail) -> bool:
    return ":" not in rail.subnet


def hinted() -> bool:
    return connection.vendor == "postgresql"


def _gaps(
    rail: Rail, span: ipam.Span, limit: int, block: int = 1, use_hints: bool = False
) -> tuple[list[ipam.Span], list[int]]:
    """The first `limit` free runs inside `span` that hold an aligned block of `block` addresses
    (1: any free run), lowest first; with `use_hints`, from the rail's free-space hint on (the
    runs below it are taken), and the ids of the hint rows read."""
    low, high = span
    tail = [block, block, block, block, limit]
    with connection.cursor() as cursor:
        if use_hints and hinted():
            params = [low, rail.pk, high, rail.pk, rail.pk, rail.pk, *tail]
            cursor.execute(HINTED_GAPS_SQL, params)
        else:
            cursor.execute(PLAIN_GAPS_SQL, [low, high, rail.pk, rail.pk, *tail])
        rows = cursor.fetchall()
    seen = (rows[0][2] or []) if rows else []
    return [(first, last) for first, last, _ in rows], seen


def first_free(rail: Rail, count: int) -> list[ipam.Span]:
    """The rail's lowest `count` free addresses (usable minus exclusions minus host IPs), as
    spans; fewer when the rail has fewer."""
    return lowest_free(rail, count)[0]


def lowest_free(rail: Rail, count: int) -> tuple[list[ipam.Span], list[int]]:
    """first_free, and the ids of the free-space hint rows it read (planner.allocation replaces
    them). The search starts at the hint: a full rail costs what an empty one does."""
    if not is_v4(rail):
        return rail.space().first_free(count), []
    usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
    if usable is None or count <= 0:
        return [], []
    gaps, seen = _gaps(rail, usable, count, use_hints=True)
    return _first_addresses(gaps, count), seen


def rail_with_first_free(rail_id: int, count: int) -> tuple[Rail | None, list[ipam.Span]]:
    """The rail (None: no such rail) and first_free(rail, count). On PostgreSQL one statement
    reads both, from the pod range stored on the rail (Rail.pod_first_int, pod_last_int) when
    that is the range its fields give now; otherwise (IPv6, a range written around save()) the
    free space is asked again from the fields."""
    if not hinted():
        rail = rows.by_pk(Rail, rail_id)
        return rail, first_free(rail, count) if rail else []
    names, _ = rows.columns(Rail)
    with connection.cursor() as cursor:
        cursor.execute(rail_gaps_sql(), [rail_id, rail_id, rail_id, rail_id, 1, 1, 1, 1, count])
        found = cursor.fetchall()
    if not found:
        return None, []
    rail = Rail.from_db(connection.alias, names, found[0][: len(names)])
    stored = (rail.pod_first_int, rail.pod_last_int)
    if stored[0] is None or stored != rail.pod_ints():
        return rail, first_free(rail, count)
    runs = [(row[-2], row[-1]) for row in found if row[-2] is not None]
    return rail, _first_addresses(runs, count)


def _first_addresses(runs: list[ipam.Span], count: int) -> list[ipam.Span]:
    """The first `count` addresses of the free runs, as spans."""
    taken, remaining = [], count
    for first, last in runs:
        if remaining <= 0:
            break
        end = min(last, first + remaining - 1)
        taken.append((first, end))
        remaining -= end - first + 1
    return taken


def hint_statement(rail: Rail, seen: list[int], low: int) -> tuple[str, list]:
    """A CTE prefix that, in the allocator's write, replaces the hint rows it read with one at
    `low` (the address after those it gave); ("", []) where no hints are kept. A rail id that
    names no rail writes no hint (the worker warm-up runs the statement so)."""
    if not (hinted() and is_v4(rail)):
        return "", []
    sql = (
        f"WITH read_hints AS (DELETE FROM {HINTS} WHERE id = ANY(%s::bigint[])), "
        f"new_hint AS (INSERT INTO {HINTS} (rail_id, low) SELECT id, %s FROM {RAILS} "
        "WHERE id = %s) "
    )
    return sql, [bulk_sql.array_literal(seen), low, rail.pk]


def next_free_prefix(rail: Rail, prefix_length: int) -> str | None:
    """The lowest aligned block of that length in the subnet wholly free of exclusions and host
    IPs (RailSpace.next_free_prefix, asked of the database)."""
    if not is_v4(rail):
        return rail.space().next_free_prefix(prefix_length)
    block = 1 << (32 - prefix_length)
    found = _first_free_block(rail, ipam.span_of(rail.subnet), block)
    if not found:
        return None
    start = (found[0][0] + block - 1) // block * block
    return f"{ipam.int_to_ip(start)}/{prefix_length}"


def _first_free_block(rail: Rail, subnet: ipam.Span, block: int) -> list[ipam.Span]:
    """The first free run of the subnet that holds an aligned block. On PostgreSQL the pod
    range's start up to its hint is all taken, so no free block touches it: a block lies
    wholly below the pod range, where hints say nothing (searched first, when one fits there),
    or wholly from the hint on, so a range filling with hosts costs what an empty one does."""
    usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
    if usable is None or not hinted():
        return _gaps(rail, subnet, 1, block)[0]
    below = (subnet[0], usable[0] - 1)
    if _holds_block(below, block):
        found = _gaps(rail, below, 1, block)[0]
        if found:
            return found
    params = [usable[0], usable[1] + 1, subnet[0], rail.pk, subnet[1], rail.pk, rail.pk]
    with connection.cursor() as cursor:
        cursor.execute(BLOCK_GAPS_SQL, [*params, block, block, block, block, 1])
        return [(first, last) for first, last, _ in cursor.fetchall()]


def _holds_block(span: ipam.Span, block: int) -> bool:
    first_aligned = (span[0] + block - 1) // block * block
    return first_aligned + block - 1 <= span[1]


OVERLAP_WHERE = f"""rail_id = %s AND id <> %s AND first_int <= %s AND first_int >= COALESCE(
    (SELECT first_int FROM {EXCLUSIONS} WHERE rail_id = %s AND id <> %s AND first_int < %s
      ORDER BY first_int DESC LIMIT 1), %s)"""
HOSTS_WITHIN_SQL = (
    f"SELECT count(*), min(host_int) FROM {NICS} "
    "WHERE rail_id = %s AND host_int >= %s AND host_int <= %s"
)


def overlapping(rail: Rail, span: ipam.Span, exclude_pk: int | None = None) -> list[Exclusion]:
    """The rail's exclusions overlapping the span (up to 6, to name them), in one indexed
    query: they never overlap each other, so only the last one starting below the span and
    those starting inside it can."""
    if not is_v4(rail):
        others = rail.exclusions.order_by().exclude(pk=exclude_pk)
        return [ex for ex in others if ipam.overlaps(span, ex.span())]
    first, last = span
    other = -1 if exclude_pk is None else exclude_pk
    params = [rail.pk, other, last, rail.pk, other, first, first]
    near = rows.select(Exclusion, OVERLAP_WHERE, params, "ORDER BY first_int LIMIT 6")
    return [ex for ex in near if ex.last_int >= first]


def hosts_within(rail: Rail, span: ipam.Span) -> tuple[int, int | None]:
    """How many host IPs of the rail lie in the span, and the lowest of them."""
    if not is_v4(rail):
        hosts = [ip for ip in rail.host_ip_ints() if span[0] <= ip <= span[1]]
        return len(hosts), min(hosts, default=None)
    with connection.cursor() as cursor:
        cursor.execute(HOSTS_WITHIN_SQL, [rail.pk, span[0], span[1]])
        count, lowest = cursor.fetchone()
    return count, lowest
