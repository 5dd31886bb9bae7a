"""Free-space hints (planner.free_hints): allocation starts at the rail's hint, so a full rail
costs what an empty one does, and every write that sets an address free (a NIC deleted or
re-addressed, an exclusion deleted or changed, the pod range changed) moves the search back:
the lowest free address is always the one given. Checked against RailSpace (the rail read
whole into Python) after every step of random edits; the hint rows themselves on PostgreSQL."""

import random

import pytest
from django.db import connection

from planner import allocation, freespace, ipam
from planner.models import Exclusion, FreeSpaceHint, Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db


def rail_with_nics(count: int, subnet="10.80.0.0/24", slug="hinted") -> Rail:
    plan = Plan.objects.create(name=slug, slug=slug)
    rail = Rail.objects.create(plan=plan, index=0, subnet=subnet)
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"n{i:04d}") for i in range(count))
    NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for node in nodes)
    return rail


def lowest(rail: Rail, count: int) -> list[str]:
    rail.refresh_from_db()
    return [ipam.int_to_ip(ip) for a, b in rail.space().first_free(count) for ip in range(a, b + 1)]


def addressed(rail: Rail) -> list[NodeNIC]:
    return list(NodeNIC.objects.filter(rail=rail, host_ip__isnull=False).order_by("host_int"))


@pytest.mark.parametrize("seed", range(6))
def test_the_lowest_free_address_is_given_after_any_release(seed):
    rng = random.Random(seed)
    rail = rail_with_nics(120, slug=f"hinted-{seed}")
    for step in range(40):
        action = rng.choice(["allocate"] * 3 + ["clear", "move", "delete", "exclude", "range"])
        taken = addressed(rail)
        if action == "allocate":
            free_nics = NodeNIC.objects.filter(rail=rail, host_ip__isnull=True).count()
            count = min(free_nics, rng.choice([1, 1, 3, 17]))
            if count == 0:
                continue
            expected = lowest(rail, count)
            given = allocation.allocate_on_rail(rail.id, count)
            assert [a.address for a in given] == expected, (seed, step)
        elif action == "clear" and taken:
            NodeNIC.objects.filter(pk=rng.choice(taken).pk).update(host_ip=None)
        elif action == "move" and taken:
            nic = rng.choice(taken)
            target = lowest(rail, 60)[-1]
            nic.host_ip = target  # a high address by hand: its old one is free
            nic.save(update_fields=["host_ip"])
        elif action == "delete" and taken:
            rng.choice(taken).node.delete()
            Node.objects.create(plan=rail.plan, name=f"new-{step}").nics.create(rail=rail)
        elif action == "exclude":
            exclusions = list(Exclusion.objects.filter(rail=rail))
            if exclusions and rng.random() < 0.5:
                rng.choice(exclusions).delete()
            else:
                free = lowest(rail, 1)
                if free:
                    Exclusion.objects.create(rail=rail, start=free[0], end=free[0])
        elif action == "range":
            Rail.objects.filter(pk=rail.pk).update(
                range_start=rng.choice(["", "10.80.0.2", "10.80.0.9", "10.80.0.40"]) or None,
                range_end=rng.choice(["", "", "10.80.0.200"]) or None,
            )
        rail.refresh_from_db()
        spans = rail.space().first_free(30)
        assert freespace.first_free(rail, 30) == spans, (seed, step, action)
        assert freespace.rail_with_first_free(rail.pk, 30) == (rail, spans), (seed, step)
        for length in (26, 28, 29, 30):  # blocks below, across and above the pod range
            expected = rail.space().next_free_prefix(length)
            assert freespace.next_free_prefix(rail, length) == expected, (seed, step, length)


def test_a_full_rail_starts_its_search_at_the_hint(require_postgres):
    """At 5,000 addresses given the gap query reads a handful of NIC index entries, not
    5,000; a released address moves the hint back to it."""
    rail = rail_with_nics(5010, subnet="10.81.0.0/16", slug="full")
    for _ in range(5):
        allocation.allocate_on_rail(rail.id, 1000)
    hints = list(FreeSpaceHint.objects.filter(rail_id=rail.id).values_list("low", flat=True))
    assert hints == [ipam.ip_to_int("10.81.19.137")]  # 5,000 after 10.81.0.1
    usable = ipam.usable_span(rail.subnet, None, None)
    params = [usable[0], rail.pk, usable[1], rail.pk, rail.pk, rail.pk, 1, 1, 1, 1, 10]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + freespace.HINTED_GAPS_SQL, params)
        plan = cursor.fetchone()[0]
    nic_scans = [
        node for node in walk(plan[0]["Plan"]) if node.get("Index Name") == "nic_rail_host_int"
    ]
    assert nic_scans and all(node["Actual Rows"] < 10 for node in nic_scans), nic_scans
    released = NodeNIC.objects.get(rail=rail, host_ip="10.81.3.3")
    released.node.delete()
    assert freespace.first_free(rail, 1) == [(ipam.ip_to_int("10.81.3.3"),) * 2]
    assert allocation.allocate_on_rail(rail.id, 1)[0].address == "10.81.3.3"
    assert freespace.first_free(rail, 1) == [(ipam.ip_to_int("10.81.19.137"),) * 2]


def test_a_block_search_on_a_filling_range_starts_at_the_hint(require_postgres):
    """available-prefixes at 5,000 hosts given reads what it reads on an empty rail: the run of
    taken addresses from the pod range's start to the hint is skipped, not read."""
    rail = rail_with_nics(5010, subnet="10.82.0.0/16", slug="blocks")
    for _ in range(5):
        allocation.allocate_on_rail(rail.id, 1000)
    assert freespace.next_free_prefix(rail, 24) == "10.82.20.0/24"  # hosts end at 10.82.19.136
    subnet, usable = ipam.span_of(rail.subnet), ipam.usable_span(rail.subnet, None, None)
    params = [usable[0], usable[1] + 1, subnet[0], rail.pk, subnet[1], rail.pk, rail.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + freespace.BLOCK_GAPS_SQL,
            [*params, 256, 256, 256, 256, 1],
        )
        plan = cursor.fetchone()[0]
    nic_scans = [
        node for node in walk(plan[0]["Plan"]) if node.get("Index Name") == "nic_rail_host_int"
    ]
    assert nic_scans and all(node["Actual Rows"] < 10 for node in nic_scans), nic_scans
    released = [f"10.82.3.{last}" for last in range(4, 8)]
    NodeNIC.objects.filter(rail=rail, host_ip__in=released).update(host_ip=None)
    assert freespace.next_free_prefix(rail, 30) == "10.82.3.4/30"  # a release moves it back
    assert freespace.next_free_prefix(rail, 32) == "10.82.0.0/32"  # below the pod range
    assert freespace.next_free_prefix(rail, 24) == "10.82.20.0/24"


def test_a_block_search_never_skips_past_the_pod_range(require_postgres):
    """A hint only speaks for the pod range: above the range's end, blocks are searched even
    when the hint lies higher (a true hint: no free address of the range is below it)."""
    rail = rail_with_nics(20, slug="short-range")
    Rail.objects.filter(pk=rail.pk).update(range_end="10.80.0.20")
    allocation.allocate_on_rail(rail.id, 20)  # the whole range: 10.80.0.1 to .20
    FreeSpaceHint.objects.filter(rail_id=rail.id).update(low=ipam.ip_to_int("10.80.0.100"))
    rail.refresh_from_db()
    assert freespace.next_free_prefix(rail, 30) == "10.80.0.24/30"
    assert freespace.next_free_prefix(rail, 30) == rail.space().next_free_prefix(30)


def walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def test_hint_rows_follow_releases_and_go_with_their_rail(require_postgres):
    rail = rail_with_nics(6, slug="rows")
    allocation.allocate_on_rail(rail.id, 4)
    rows = lambda: sorted(  # noqa: E731
        FreeSpaceHint.objects.filter(rail_id=rail.id).values_list("low", flat=True)
    )
    assert rows() == [ipam.ip_to_int("10.80.0.5")]
    NodeNIC.objects.filter(rail=rail, host_ip="10.80.0.3").update(host_ip=None)
    assert rows() == [ipam.ip_to_int("10.80.0.3"), ipam.ip_to_int("10.80.0.5")]
    exclusion = Exclusion.objects.create(rail=rail, cidr="10.80.0.64/28")
    assert len(rows()) == 2  # taking space writes no hint
    exclusion.delete()
    assert ipam.ip_to_int("10.80.0.64") in rows()
    rail.range_start = "10.80.0.2"
    rail.save()
    assert rows()[0] == 0  # a new range: anything may be free
    assert allocation.allocate_on_rail(rail.id, 1)[0].address == "10.80.0.3"
    assert rows() == [ipam.ip_to_int("10.80.0.4")]
    rail.plan.delete()
    assert not FreeSpaceHint.objects.filter(rail_id=rail.id).exists()


@pytest.mark.django_db(transaction=True)
def test_releases_racing_allocations_leave_no_free_address_behind(require_postgres):
    """Threads allocate while others delete addressed NICs and clear host IPs, all at once:
    whatever committed when, the search still finds every free address (the hint never jumps
    over one a racing release set free), and no address is given twice."""
    from concurrent.futures import ThreadPoolExecutor

    rail = rail_with_nics(160, slug="racing")
    allocation.allocate_on_rail(rail.id, 100)
    addressed_ids = list(
        NodeNIC.objects.filter(rail=rail, host_ip__isnull=False).values_list("node_id", "pk")
    )

    def work(step: int):
        try:
            if step % 3 == 0:
                return allocation.allocate_on_rail(rail.id, 3)
            node_id, nic_id = addressed_ids[step]
            if step % 3 == 1:
                Node.objects.filter(pk=node_id).delete()
            else:
                NodeNIC.objects.filter(pk=nic_id).update(host_ip=None)
            return None
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(60)))
    rail.refresh_from_db()
    assert freespace.first_free(rail, 60) == rail.space().first_free(60)
    hosts = list(
        NodeNIC.objects.filter(rail=rail, host_ip__isnull=False).values_list("host_ip", flat=True)
    )
    assert len(hosts) == len(set(hosts))
    expected = lowest(rail, 10)
    given = allocation.allocate_on_rail(rail.id, 10)
    assert [a.address for a in given] == expected
