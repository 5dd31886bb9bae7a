"""The IPAM writes run a fixed number of queries, whatever they give and however full the
rail: one address or 500, on an empty rail or one with 500 given (issue 14)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from planner.models import Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(planner_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=planner_user).key}")
    return client


@pytest.fixture
def rail() -> Rail:
    plan = Plan.objects.create(name="Budget", slug="budget")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.77.0.0/20")
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"n{i:04d}") for i in range(1200))
    NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for node in nodes)
    return rail


def statements(api, method: str, path: str, body=None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = getattr(api, method)(path, body, format="json")
    assert response.status_code in (200, 201), response.content
    return [query["sql"] for query in queries]


def test_allocation_costs_the_same_for_one_address_or_500_on_any_fill(api, rail):
    ips = f"/api/rails/{rail.pk}/available-ips/"
    one = statements(api, "post", ips, {"count": 1})
    many = statements(api, "post", ips, {"count": 500})
    full = statements(api, "post", ips, {"count": 1})
    # token, the rail locked, its NICs, the gaps, the write; and the savepoint around it
    assert len(one) == len(many) == len(full) == 7, one
    reads = [statements(api, "get", f"{ips}?limit=50") for _ in range(2)]
    # token, then the rail with its gaps (PostgreSQL: one statement; SQLite: two)
    expected = 2 if connection.vendor == "postgresql" else 3
    assert len(reads[0]) == len(reads[1]) == expected, reads[0]


def test_an_exclusion_and_a_carved_prefix_cost_a_few_queries(api, rail):
    added = statements(api, "post", "/api/exclusions/", {"rail": rail.pk, "cidr": "10.77.8.0/24"})
    # token, the rail locked, overlaps, host IPs inside, the insert; and the savepoint
    assert len(added) <= 7, added
    carved = statements(
        api, "post", f"/api/rails/{rail.pk}/available-prefixes/", {"prefix_length": 26}
    )
    assert len(carved) <= 6, carved  # token, the rail locked, the gaps, the insert, savepoint
