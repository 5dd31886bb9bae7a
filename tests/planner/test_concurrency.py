"""Races against PostgreSQL: parallel allocations never hand out an address twice, identical
creates store one row, mixed bursts end without a 500 (or a deadlock)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from planner import allocation
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_allocations_get_distinct_addresses(require_postgres):
    plan = Plan.objects.create(name="Race", slug="race")
    rails = [
        Rail.objects.create(plan=plan, index=i, subnet=f"10.{60 + i}.0.0/24") for i in range(2)
    ]
    for n in range(20):
        node = Node.objects.create(plan=plan, name=f"node-{n:02d}")
        NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for rail in rails)

    def allocate_one(worker: int):
        try:
            rail = rails[worker % 2]
            return [a.address for a in allocation.allocate_on_rail(rail.id, 2)]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(allocate_one, range(20)))

    given = [address for batch in results for address in batch]
    assert len(given) == 40
    for rail in rails:
        hosts = list(NodeNIC.objects.filter(rail=rail).values_list("host_ip", flat=True))
        assert None not in hosts
        prefix = rail.subnet.rsplit(".", 1)[0]
        assert sorted(hosts) == sorted(f"{prefix}.{i}" for i in range(1, 21))  # no duplicates


def _burst(user, requests: list) -> list:
    """Send the (method, url, body) requests at once, one API client and DB connection each;
    returns the responses in order."""
    from rest_framework.test import APIClient

    barrier = threading.Barrier(len(requests))

    def send(request):
        method, url, body = request
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait(timeout=30)
            return getattr(client, method)(url, body, format="json")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def _clear(responses, *allowed) -> None:
    """Every refusal is one of `allowed`, in human words (no database text)."""
    for response in responses:
        if response.status_code < 300:
            continue
        assert response.status_code in allowed, (response.status_code, response.content)
        text = response.content.decode().lower()
        assert "violates" not in text and "duplicate key" not in text and "constraint" not in text


@pytest.fixture
def planner_user(django_user_model):
    from django.contrib.auth.models import Group

    from railstudio.roles import ensure_roles

    ensure_roles()
    user = django_user_model.objects.create_user(username="race", password="pw-race")
    user.groups.add(Group.objects.get(name="planner"))
    return user


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_exclusions_store_one(require_postgres, planner_user):
    plan = Plan.objects.create(name="Race", slug="race")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.60.0.0/16")
    body = {"rail": rail.id, "cidr": "10.60.200.0/24", "purpose": "reserved"}
    responses = _burst(planner_user, [("post", "/api/exclusions/", body)] * 20)
    assert [r.status_code for r in responses].count(201) == 1
    _clear(responses, 400, 409)
    assert Exclusion.objects.filter(rail=rail).count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_overlapping_exclusions_store_one(require_postgres, planner_user):
    plan = Plan.objects.create(name="Race", slug="race")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.60.0.0/16")
    bodies = [
        {"rail": rail.id, "cidr": f"10.60.200.{16 * (i % 16)}/28"} if i % 2 else
        {"rail": rail.id, "cidr": "10.60.200.0/24"}
        for i in range(20)
    ]  # fmt: skip
    responses = _burst(planner_user, [("post", "/api/exclusions/", body) for body in bodies])
    _clear(responses, 400, 409)
    spans = sorted(ex.span() for ex in Exclusion.objects.filter(rail=rail))
    assert spans and all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_rails_store_one(require_postgres, planner_user):
    plan = Plan.objects.create(name="Race", slug="race")
    requests = [
        ("post", "/api/rails/", {"plan": plan.id, "index": index, "subnet": "10.61.0.0/16"})
        for index in range(20)
    ]
    responses = _burst(planner_user, requests)
    assert [r.status_code for r in responses].count(201) == 1
    _clear(responses, 400, 409)
    assert Rail.objects.filter(plan=plan).count() == 1


@pytest.mark.django_db(transaction=True)
def test_mixed_allocation_bursts_never_fail_nor_hand_out_an_address_twice(
    require_postgres, planner_user
):
    plan = Plan.objects.create(name="Race", slug="race")
    rails = [
        Rail.objects.create(plan=plan, index=i, subnet=f"10.{70 + i}.0.0/24") for i in range(4)
    ]
    for n in range(30):
        node = Node.objects.create(plan=plan, name=f"node-{n:02d}")
        NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for rail in rails)
    requests = []
    for i in range(10):
        rail = rails[i % len(rails)]
        requests.append(("post", f"/api/rails/{rail.id}/available-ips/", {"count": 2}))
        requests.append(("post", f"/api/plans/{plan.slug}/allocate-host-ips/", {}))
    responses = _burst(planner_user, requests)
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    _clear(responses, 400, 409)
    for rail in rails:
        hosts = list(NodeNIC.objects.filter(rail=rail).values_list("host_ip", flat=True))
        assert None not in hosts and len(set(hosts)) == len(hosts) == 30
