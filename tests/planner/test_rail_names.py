"""Rails store their effective NAD and interface names, which the database keeps unique per
plan; renaming the plan's templates renames the rails."""

import pytest
from django.db import IntegrityError, transaction

from planner.models import Plan, Rail

pytestmark = pytest.mark.django_db


def test_names_follow_the_templates_and_overrides(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=2)
    assert (rail.nad_name, rail.interface_name) == ("sriov-rail-2", "net3")
    response = planner_api.patch(
        "/api/plans/training/", {"nad_name_template": "rdma-{rail}"}, format="json"
    )
    assert response.status_code == 200, response.json()
    rail.refresh_from_db()
    assert rail.nad_name == "rdma-2"
    assert planner_api.get(f"/api/rails/{rail.id}/").json()["nad_name"] == "rdma-2"
    override = planner_api.patch(f"/api/rails/{rail.id}/", {"nad_name": "custom"}, format="json")
    assert override.status_code == 200 and override.json()["nad_name"] == "custom"


def test_a_template_that_would_give_two_rails_one_name_is_refused(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=1)
    planner_api.patch(f"/api/rails/{rail.id}/", {"nad_name": "rdma-0"}, format="json")
    response = planner_api.patch(
        "/api/plans/training/", {"nad_name_template": "rdma-{rail}"}, format="json"
    )
    assert response.status_code == 400
    assert "would name both rail" in response.json()["nad_name_template"][0]
    seed_plan.refresh_from_db()
    assert seed_plan.nad_name_template == "sriov-rail-{rail}"


def test_the_database_keeps_names_and_subnets_unique_per_plan(seed_plan):
    plan = Plan.objects.create(name="Other", slug="other")
    Rail.objects.create(plan=plan, index=0, subnet="10.50.0.0/16")  # another plan: fine
    for fields in (
        {"index": 20, "subnet": "10.50.0.0/16"},
        {"index": 21, "subnet": "10.90.0.0/16", "nad_name_override": "sriov-rail-0"},
        {"index": 22, "subnet": "10.91.0.0/16", "interface_name_override": "net1"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Rail.objects.create(plan=seed_plan, **fields)
