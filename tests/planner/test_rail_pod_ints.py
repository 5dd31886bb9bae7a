"""Rail.pod_first_int and pod_last_int: the pod range as integers, stored so that one statement
reads a rail with its free space (planner.freespace.rail_with_first_free). Every ORM write keeps
them true or forgets them; a reader that finds them stale asks again from the rail's fields."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planner import allocation, freespace, ipam
from planner.models import Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db

INT = ipam.ip_to_int


@pytest.fixture
def plan() -> Plan:
    return Plan.objects.create(name="Pod ints", slug="pod-ints")


def stored(rail: Rail) -> tuple:
    return tuple(Rail.objects.filter(pk=rail.pk).values_list("pod_first_int", "pod_last_int")[0])


def test_every_orm_write_keeps_the_stored_range_true(plan):
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.90.0.0/24")
    assert stored(rail) == (INT("10.90.0.1"), INT("10.90.0.254"))
    rail.range_start, rail.range_end = "10.90.0.10", "10.90.0.20"
    rail.save(update_fields=["range_start", "range_end"])
    assert stored(rail) == (INT("10.90.0.10"), INT("10.90.0.20"))
    [bulk] = Rail.objects.bulk_create([Rail(plan=plan, index=1, subnet="10.91.0.0/30")])
    assert stored(bulk) == (INT("10.91.0.1"), INT("10.91.0.2"))
    bulk.subnet = "10.91.0.0/29"
    Rail.objects.bulk_update([bulk], ["subnet"])
    assert stored(bulk) == (INT("10.91.0.1"), INT("10.91.0.6"))
    Rail.objects.filter(pk=rail.pk).update(range_start=None)  # no row's range at hand: forgotten
    assert stored(rail) == (None, None)
    v6 = Rail.objects.create(plan=plan, index=2, subnet="fd00:90::/120")
    assert stored(v6) == (None, None)
    tiny = Rail.objects.create(plan=plan, index=3, subnet="10.92.0.0/31")  # no usable address
    assert stored(tiny) == (None, None)


def test_a_stale_or_forgotten_range_is_asked_again_from_the_fields(plan):
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.90.0.0/24", range_start="10.90.0.50")
    Rail.objects.filter(pk=rail.pk).update(pod_first_int=INT("10.90.0.2"))  # as a raw write might
    found, spans = freespace.rail_with_first_free(rail.pk, 3)
    assert found == rail and spans == [(INT("10.90.0.50"), INT("10.90.0.52"))]
    Rail.objects.filter(pk=rail.pk).update(range_start="10.90.0.60")
    assert freespace.rail_with_first_free(rail.pk, 1)[1] == [(INT("10.90.0.60"),) * 2]


def test_one_statement_reads_the_rail_and_its_gaps(plan, require_postgres):
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.90.0.0/24")
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"n{i}") for i in range(5))
    NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for node in nodes)
    allocation.allocate_on_rail(rail.pk, 5)
    with CaptureQueriesContext(connection) as queries:
        found, spans = freespace.rail_with_first_free(rail.pk, 4)
    assert len(queries) == 1
    assert found == rail and spans == freespace.first_free(rail, 4)
    assert spans == [(INT("10.90.0.6"), INT("10.90.0.9"))]
    assert freespace.rail_with_first_free(0, 4) == (None, [])
    v6 = Rail.objects.create(plan=plan, index=1, subnet="fd00:90::/124")
    assert freespace.rail_with_first_free(v6.pk, 2)[1] == v6.space().first_free(2)


def test_the_migration_fills_the_rails_that_exist(plan):
    from importlib import import_module

    from django.apps import apps

    rail = Rail.objects.create(plan=plan, index=0, subnet="10.90.0.0/24", range_end="10.90.0.9")
    Rail.objects.filter(pk=rail.pk).update(range_start=None)  # stored ints forgotten
    migration = import_module("planner.migrations.0007_rail_pod_ints")
    migration.fill_pod_ints(apps, None)
    assert stored(rail) == (INT("10.90.0.1"), INT("10.90.0.9"))
