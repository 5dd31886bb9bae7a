"""A rail's free space and overlaps asked of the database, on the integer address columns.

IPv4 rails store every exclusion's bounds and every host IP as integers (Exclusion.first_int,
last_int, NodeNIC.host_int) under (rail, ...) indexes, so the lowest free addresses are one
gap query (window functions over the sorted taken ranges, LIMIT what was asked) and an overlap
is one indexed range query: neither reads the rail into Python. IPv6 rails have no integer
columns (128 bits fit no portable integer type) and take RailSpace's span arithmetic instead.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BigIntegerField, Count, Min, Subquery, Value
from django.db.models.functions import Coalesce

from planner import ipam
from planner.models import Exclusion, NodeNIC, Rail

EXCLUSIONS = Exclusion._meta.db_table
NICS = NodeNIC._meta.db_table

GAPS_SQL = f"""
WITH taken (low, high) AS (
    SELECT first_int, last_int FROM {EXCLUSIONS}
     WHERE rail_id = %s AND first_int <= %s AND last_int >= %s
    UNION ALL
    SELECT host_int, host_int FROM {NICS}
     WHERE rail_id = %s AND host_int >= %s AND host_int <= %s
    UNION ALL SELECT CAST(%s AS BIGINT), CAST(%s AS BIGINT)
    UNION ALL SELECT CAST(%s AS BIGINT), CAST(%s AS BIGINT)
), edges AS (
    SELECT low, high, MAX(high) OVER sorted AS reach, LEAD(low) OVER sorted AS next_low
      FROM taken
    WINDOW sorted AS (ORDER BY low, high ROWS UNBOUNDED PRECEDING)
)
SELECT reach + 1, next_low - 1 FROM edges
 WHERE next_low > reach + 1 AND (reach + %s) / %s * %s + %s <= next_low
 ORDER BY low, high LIMIT %s
"""


def is_v4(rail: Rail) -> bool:
    return ":" not in rail.subnet


def _gaps(rail: Rail, span: ipam.Span, limit: int, block: int = 1) -> list[ipam.Span]:
    """The first `limit` free runs inside `span` that hold an aligned block of `block` addresses
    (1: any free run), lowest first."""
    low, high = span
    params = [rail.pk, high, low, rail.pk, low, high, low - 1, low - 1, high + 1, high + 1]
    params += [block, block, block, block, limit]
    with connection.cursor() as cursor:
        cursor.execute(GAPS_SQL, params)
        return cursor.fetchall()


def first_free(rail: Rail, count: int) -> list[ipam.Span]:
    """The rail's lowest `count` free addresses (usable minus exclusions minus host IPs), as
    spans; fewer when the rail has fewer."""
    if not is_v4(rail):
        return rail.space().first_free(count)
    usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
    if usable is None or count <= 0:
        return []
    taken, remaining = [], count
    for first, last in _gaps(rail, usable, count):
        if remaining <= 0:
            break
        end = min(last, first + remaining - 1)
        taken.append((first, end))
        remaining -= end - first + 1
    return taken


def next_free_prefix(rail: Rail, prefix_length: int) -> str | None:
    """The lowest aligned block of that length in the subnet wholly free of exclusions and host
    IPs (RailSpace.next_free_prefix, asked of the database)."""
    if not is_v4(rail):
        return rail.space().next_free_prefix(prefix_length)
    block = 1 << (32 - prefix_length)
    found = _gaps(rail, ipam.span_of(rail.subnet), 1, block)
    if not found:
        return None
    start = (found[0][0] + block - 1) // block * block
    return f"{ipam.int_to_ip(start)}/{prefix_length}"


def overlapping(rail: Rail, span: ipam.Span, exclude_pk: int | None = None) -> list[Exclusion]:
    """The rail's exclusions overlapping the span, in one indexed query: they never overlap each
    other, so only the last one starting below the span and those starting inside it can."""
    if not is_v4(rail):
        others = rail.exclusions.order_by().exclude(pk=exclude_pk)
        return [ex for ex in others if ipam.overlaps(span, ex.span())]
    first, last = span
    rows = Exclusion.objects.order_by().filter(rail=rail).exclude(pk=exclude_pk)
    before = rows.filter(first_int__lt=first).order_by("-first_int").values("first_int")[:1]
    near = rows.filter(
        first_int__gte=Coalesce(Subquery(before), Value(first), output_field=BigIntegerField()),
        first_int__lte=last,
    ).order_by("first_int")[:6]
    return [ex for ex in near if ex.last_int >= first]


def hosts_within(rail: Rail, span: ipam.Span) -> tuple[int, int | None]:
    """How many host IPs of the rail lie in the span, and the lowest of them."""
    if not is_v4(rail):
        hosts = [ip for ip in rail.host_ip_ints() if span[0] <= ip <= span[1]]
        return len(hosts), min(hosts, default=None)
    found = (
        NodeNIC.objects.order_by()
        .filter(rail=rail, host_int__gte=span[0], host_int__lte=span[1])
        .aggregate(count=Count("pk"), lowest=Min("host_int"))
    )
    return found["count"], found["lowest"]
