"""20 parallel allocations against PostgreSQL never hand out the same address twice."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from planner import allocation
from planner.models import Node, NodeNIC, Plan, Rail


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
