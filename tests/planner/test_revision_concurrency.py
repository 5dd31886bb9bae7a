"""The revision triggers keep planner.locks' order (plan row, then rail rows): plan and rail
edits racing allocations, exclusions and imports of the same plan end without a 500 or a
deadlock, and the plan's revision moves."""

import pytest

from planner import revisions
from planner.models import Node, NodeNIC, Plan, Rail
from tests.planner.test_concurrency import _burst, _clear


@pytest.mark.django_db(transaction=True)
def test_plan_and_rail_edits_racing_writes_inside_the_rails_never_deadlock(
    require_postgres, planner_user
):
    plan = Plan.objects.create(name="Race", slug="race")
    rails = [
        Rail.objects.create(plan=plan, index=i, subnet=f"10.{70 + i}.0.0/22") for i in range(4)
    ]
    for n in range(40):
        node = Node.objects.create(plan=plan, name=f"node-{n:02d}")
        NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for rail in rails)
    before = revisions.current(plan.pk)[0]
    requests = []
    for i in range(4):
        rail = rails[i]
        requests += [
            ("patch", f"/api/rails/{rail.id}/", {"vlan": 100 + i}),
            ("patch", f"/api/plans/{plan.slug}/", {"nad_name_template": f"rail-{i}-{{rail}}"}),
            ("post", f"/api/rails/{rail.id}/available-ips/", {"count": 3}),
            ("post", "/api/exclusions/", {"rail": rail.id, "cidr": f"10.{70 + i}.3.0/24"}),
            ("post", f"/api/plans/{plan.slug}/allocate-host-ips/", {}),
            (
                "post",
                f"/api/plans/{plan.slug}/import-nodes/",
                {"text": f"node,rail\nnew-{i},{i}\n"},
            ),
        ]
    responses = _burst(planner_user, requests)
    assert all(r.status_code < 500 for r in responses), [
        (r.status_code, r.content[:200]) for r in responses if r.status_code >= 500
    ]
    _clear(responses, 400, 409)
    assert revisions.current(plan.pk)[0] != before
