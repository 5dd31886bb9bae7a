"""Query budgets at scale (issue 16): every page and API call of a plan costs the same number of
queries with 8 nodes as with 512 nodes x 8 rails, the first time (the cache is cold) and after."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planner import ipam, services
from planner.models import Node, NodeNIC, Plan

RAILS = 8
# Queries once the plan's results are cached (session, user and roles included).
WARM_BUDGETS = {
    "plan page": 10,
    "nodes page": 10,
    "manifests page": 6,
    "manifests API yaml": 6,
    "manifests API json": 6,
    "export yaml": 6,
    "export json": 6,
    "utilisation API": 6,
    "dashboard": 15,
}


def build(nodes: int) -> Plan:
    plan = services.create_plan(
        name=f"Scale {nodes}", slug=f"scale-{nodes}", supernet="10.0.0.0/12", rail_count=RAILS
    )
    rails = list(plan.rails.order_by("index"))
    created = Node.objects.bulk_create(
        Node(plan=plan, name=f"gpu-{n:05d}", labels={"rack": f"r{n // 32}"}) for n in range(nodes)
    )
    nics = []
    for rail in rails:
        first = ipam.span_of(rail.subnet)[0] + 256
        for position, node in enumerate(created):
            nics.append(
                NodeNIC(
                    node=node,
                    rail=rail,
                    pf_name=f"ens{rail.index}f0np0",
                    numa_node=rail.index // 4,
                    vf_count=8,
                    rdma_device=f"mlx5_{rail.index}",
                    host_ip=ipam.int_to_ip(first + position),
                )
            )
    NodeNIC.objects.bulk_create(nics, batch_size=2000)
    return plan


def calls(plan: Plan) -> dict[str, str]:
    return {
        "plan page": f"/plans/{plan.slug}/",
        "nodes page": f"/plans/{plan.slug}/nodes/",
        "nodes page 3": f"/plans/{plan.slug}/nodes/?page=3",
        "manifests page": f"/plans/{plan.slug}/manifests/",
        "manifests API yaml": f"/api/plans/{plan.pk}/manifests/?format=yaml",
        "manifests API json": f"/api/plans/{plan.pk}/manifests/?format=json",
        "export yaml": f"/api/plans/{plan.pk}/export/?format=yaml",
        "export json": f"/api/plans/{plan.pk}/export/?format=json",
        "utilisation API": f"/api/plans/{plan.pk}/utilization/",
        "dashboard": "/",
    }


def counts(client, plan: Plan) -> dict[str, tuple[int, int]]:
    """(queries the first time, queries the second time) of each call."""
    found = {}
    for label, path in calls(plan).items():
        measured = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            assert response.status_code == 200, (label, response.status_code)
            measured.append(len(queries))
        found[label] = tuple(measured)
    return found


@pytest.mark.django_db(transaction=True)  # committed: what a request sees
def test_a_512_x_8_plan_costs_the_queries_of_an_8_node_plan(as_operator):
    small = build(8)
    small_counts = counts(as_operator, small)
    small.delete()
    big = build(512)
    assert NodeNIC.objects.filter(node__plan=big).count() == 512 * RAILS
    assert counts(as_operator, big) == small_counts
    warm = {label: second for label, (_, second) in small_counts.items()}
    for label, budget in WARM_BUDGETS.items():
        assert warm[label] <= budget, (label, warm[label])
