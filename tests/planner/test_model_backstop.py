"""The models' backstop under the API's checks: full_clean says what the API says (both call
planner.validation), and the database refuses what no check may let through even when a
write goes around the serializers (a queryset update, a shell, a migration)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from planner.models import Exclusion, Node, NodeNIC, Plan, Rail

pytestmark = pytest.mark.django_db


def refused(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def test_the_database_refuses_what_the_api_refuses(seed_plan):
    rail = seed_plan.rails.get(index=0)
    node = Node.objects.create(plan=seed_plan, name="backstop")
    nic = NodeNIC.objects.create(node=node, rail=rail)
    assert refused(lambda: Plan.objects.filter(pk=seed_plan.pk).update(rail_count=0))
    assert refused(lambda: Plan.objects.filter(pk=seed_plan.pk).update(rail_count=65))
    assert refused(lambda: Plan.objects.filter(pk=seed_plan.pk).update(rail_prefix_length=129))
    assert refused(lambda: Rail.objects.filter(pk=rail.pk).update(vlan=4095))
    assert refused(lambda: Node.objects.filter(pk=node.pk).update(gpu_count=65))
    assert refused(lambda: NodeNIC.objects.filter(pk=nic.pk).update(vf_count=257))
    assert refused(lambda: NodeNIC.objects.filter(pk=nic.pk).update(numa_node=1024))
    both = Exclusion(rail=rail, cidr="10.50.200.0/24", start="10.50.201.1", end="10.50.201.2")
    assert refused(lambda: Exclusion.objects.bulk_create([both]))
    assert refused(lambda: Exclusion.objects.filter(rail=rail).update(cidr=None))
    assert not refused(lambda: Rail.objects.filter(pk=rail.pk).update(vlan=4094))


def test_full_clean_says_what_the_api_says(planner_api, seed_plan):
    rail = seed_plan.rails.get(index=0)
    api = planner_api.post(
        "/api/exclusions/", {"rail": rail.pk, "cidr": "10.51.0.0/24"}, format="json"
    )
    assert api.status_code == 400
    with pytest.raises(ValidationError) as model:
        Exclusion(rail=rail, cidr="10.51.0.0/24").full_clean()
    assert model.value.message_dict["cidr"] == api.json()["cidr"]

    api = planner_api.post(
        "/api/nodes/", {"plan": seed_plan.pk, "name": "n", "gpu_count": 99}, format="json"
    )
    with pytest.raises(ValidationError) as model:
        Node(plan=seed_plan, name="n", gpu_count=99).full_clean()
    assert model.value.message_dict["gpu_count"] == api.json()["gpu_count"]

    node = Node.objects.create(plan=seed_plan, name="n1")
    api = planner_api.post(
        "/api/nics/",
        {"node": node.pk, "rail": rail.pk, "host_ip": "10.99.0.1", "pci_address": "zz"},
        format="json",
    )
    with pytest.raises(ValidationError) as model:
        NodeNIC(node=node, rail=rail, host_ip="10.99.0.1", pci_address="zz").full_clean()
    for field in ("host_ip", "pci_address"):
        assert model.value.message_dict[field] == api.json()[field], field

    with pytest.raises(ValidationError) as model:
        Plan(name="p", slug="p", rail_count=0, namespace="Not_DNS").full_clean()
    assert "between 1 and 64" in model.value.message_dict["rail_count"][0]
    assert "namespace" in model.value.message_dict
    with pytest.raises(ValidationError) as model:
        Rail(plan=seed_plan, index=9, subnet="10.60.0.0/16", vlan=5000).full_clean()
    assert model.value.message_dict["vlan"] == ["A VLAN id is a whole number between 0 and 4094."]
    Rail(plan=seed_plan, index=9, subnet="10.60.0.0/16", vlan=7).full_clean()


def test_a_hostile_rail_reference_is_a_400_naming_the_field(planner_api, seed_plan):
    """The exclusion's `rail` is read with written-out SQL (railstudio.fields.RowField): any
    id that is not a whole number of 64 bits naming a rail is refused by name, never a 500."""
    for hostile in ("abc", "1; DROP TABLE planner_rail", -1, 0, 2**80, True, [], {}, None, "²"):
        response = planner_api.post(
            "/api/exclusions/", {"rail": hostile, "cidr": "10.50.200.0/24"}, format="json"
        )
        assert response.status_code == 400, (hostile, response.content)
        assert list(response.json()) == ["rail"], hostile
    assert Exclusion.objects.filter(cidr="10.50.200.0/24").count() == 0
