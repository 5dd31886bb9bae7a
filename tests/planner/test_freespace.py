"""Free space asked of the database (planner.freespace) agrees with the span arithmetic in
Python (RailSpace) on random rails, and every writer keeps the integer columns in step with
the address text (issue 14)."""

import random

import pytest

from planner import allocation, freespace, inventory, ipam
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db


def random_rail(seed: int, subnet="10.70.0.0/22", **fields) -> Rail:
    rng = random.Random(seed)
    plan = Plan.objects.create(name=f"Random {seed}", slug=f"random-{seed}")
    rail = Rail.objects.create(plan=plan, index=0, subnet=subnet, **fields)
    first, last = ipam.span_of(subnet)
    taken: list[ipam.Span] = []
    for _ in range(rng.randint(0, 12)):
        start = rng.randint(first, last)
        end = min(last, start + rng.choice([0, 0, 1, 3, 15, 40]))
        if any(ipam.overlaps((start, end), span) for span in taken):
            continue
        taken.append((start, end))
        Exclusion.objects.create(rail=rail, start=ipam.int_to_ip(start), end=ipam.int_to_ip(end))
    usable = ipam.usable_span(subnet, fields.get("range_start"), fields.get("range_end"))
    hosts = set()
    for n in range(rng.randint(0, 60)):
        ip = rng.randint(*usable) if rng.random() < 0.5 else usable[0] + n
        if ip in hosts or any(a <= ip <= b for a, b in taken):
            continue
        hosts.add(ip)
        node = Node.objects.create(plan=plan, name=f"n{n}")
        NodeNIC.objects.create(node=node, rail=rail, host_ip=ipam.int_to_ip(ip))
    return rail


@pytest.mark.parametrize("seed", range(12))
def test_the_database_finds_what_the_spans_find(seed):
    ranges = {} if seed % 3 else {"range_start": "10.70.0.20", "range_end": "10.70.2.200"}
    rail = random_rail(seed, **ranges)
    space = rail.space()
    for count in (1, 2, 7, 50, 1500, 5000):
        assert freespace.first_free(rail, count) == space.first_free(count), count
    for length in range(22, 33):
        assert freespace.next_free_prefix(rail, length) == space.next_free_prefix(length), length
    spans = rail.exclusion_spans()
    hosts = rail.host_ip_ints()
    rng = random.Random(seed)
    for _ in range(40):
        start = rng.randint(*ipam.span_of(rail.subnet))
        probe = (start, start + rng.choice([0, 3, 64]))
        expected = sorted(s for s in spans if ipam.overlaps(probe, s))
        assert sorted(ex.span() for ex in freespace.overlapping(rail, probe)) == expected
        inside = [ip for ip in hosts if probe[0] <= ip <= probe[1]]
        assert freespace.hosts_within(rail, probe) == (len(inside), min(inside, default=None))


def test_ipv6_rails_take_the_span_path():
    plan = Plan.objects.create(name="Six", slug="six")
    rail = Rail.objects.create(plan=plan, index=0, subnet="fd00:50::/120")
    Exclusion.objects.create(rail=rail, cidr="fd00:50::/125")
    nodes = [Node.objects.create(plan=plan, name=f"n{i}") for i in range(3)]
    nics = [NodeNIC.objects.create(node=node, rail=rail) for node in nodes]
    given = allocation.allocate_on_rail(rail.id, 2)
    assert [a.address for a in given] == ["fd00:50::8", "fd00:50::9"]
    assert freespace.first_free(rail, 1) == [(ipam.ip_to_int("fd00:50::a"),) * 2]
    assert not NodeNIC.objects.filter(host_int__isnull=False).exists()
    assert Exclusion.objects.get(rail=rail).first_int is None
    assert freespace.overlapping(rail, ipam.span_of("fd00:50::4"))
    assert freespace.hosts_within(rail, ipam.span_of("fd00:50::/124")) == (
        2,
        ipam.ip_to_int("fd00:50::8"),
    )
    assert [a.nic_id for a in given] == [nics[0].pk, nics[1].pk]
    assert NodeNIC.objects.get(pk=nics[2].pk).host_ip is None


def in_step() -> bool:
    nics = NodeNIC.objects.values_list("host_ip", "host_int")
    exclusions = Exclusion.objects.values_list("first_ip", "last_ip", "first_int", "last_int")
    return all(ipam.v4_int(ip) == number for ip, number in nics) and all(
        (ipam.v4_int(a), ipam.v4_int(b)) == (x, y) for a, b, x, y in exclusions
    )


def test_every_writer_keeps_the_integers_in_step():
    plan = Plan.objects.create(name="Step", slug="step")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.71.0.0/24")
    node = Node.objects.create(plan=plan, name="a")
    nic = NodeNIC.objects.create(node=node, rail=rail, host_ip="10.71.0.5")
    nic.host_ip = "10.71.0.6"
    nic.save(update_fields=["host_ip"])
    assert NodeNIC.objects.get(pk=nic.pk).host_int == ipam.ip_to_int("10.71.0.6")
    others = NodeNIC.objects.bulk_create(
        NodeNIC(node=Node.objects.create(plan=plan, name=f"b{i}"), rail=rail, host_ip=ip)
        for i, ip in enumerate(["10.71.0.7", None])
    )
    others[1].host_ip = "10.71.0.8"
    NodeNIC.objects.bulk_update(others, ["host_ip"])
    assert in_step()
    NodeNIC.objects.filter(pk=others[0].pk).update(host_ip=None)
    assert in_step() and NodeNIC.objects.get(pk=others[0].pk).host_int is None
    allocation.allocate_on_rail(rail.id, 1)
    Exclusion.objects.create(rail=rail, cidr="10.71.0.128/28")
    Exclusion.objects.bulk_create([Exclusion(rail=rail, start="10.71.0.200", end="10.71.0.210")])
    exclusion = Exclusion.objects.get(cidr="10.71.0.128/28")
    exclusion.cidr = "10.71.0.160/28"
    exclusion.save(update_fields=["cidr"])
    inventory.import_nodes(
        plan, inventory.parse("node,rail,host_ip\nc,0,10.71.0.9\na,0,10.71.0.10\n", "x.csv")
    )
    assert in_step()
    assert Exclusion.objects.get(pk=exclusion.pk).first_int == ipam.ip_to_int("10.71.0.160")
    assert NodeNIC.objects.get(node=node).host_ip == "10.71.0.10"
    with pytest.raises(TypeError):
        NodeNIC.objects.update(host_ip=1)
