"""The plan page's rollout panel and the cluster page's discovery comparisons read a fixed number
of queries however many clusters or plans are bound, and a comparison is computed again only when
the discovery or the plan's inventory changed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters import discovery_plans
from clusters.models import Cluster, Rollout
from planner import documents
from planner.models import NodeNIC
from planner.seed import seed_plan_spec

pytestmark = pytest.mark.django_db


def count(call) -> int:
    call()  # the first request also reads the user's roles
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured.captured_queries)


def bind_clusters(plan, start: int, stop: int) -> None:
    for index in range(start, stop):
        cluster = Cluster.objects.create(name=f"c{index}", server=f"https://10.0.0.{index}:6443")
        cluster.plans.add(plan)
        Rollout.objects.create(cluster=cluster, plan=plan, plan_slug=plan.slug, state="succeeded")
        Rollout.objects.create(cluster=cluster, plan=plan, plan_slug=plan.slug, state="running")


def test_the_rollout_panel_costs_the_same_for_one_or_many_bound_clusters(as_operator, seed_plan):
    url = reverse("plan-detail", args=[seed_plan.slug])
    bind_clusters(seed_plan, 1, 2)
    one = count(lambda: as_operator.get(url))
    bind_clusters(seed_plan, 2, 8)
    many = count(lambda: as_operator.get(url))
    assert many == one, (one, many)
    page = as_operator.get(url).content.decode()
    assert page.count("Roll out to c") == 0 and page.count("running…") == 7  # every one busy


def other_plan(name: str):
    spec = seed_plan_spec()
    from dataclasses import replace

    return documents.import_plan(documents.document_from_spec(replace(spec, name=name, slug=name)))


def discovered(plan) -> list[dict]:
    """What discovery would report for the plan's nodes, one NIC per rail."""
    nodes = []
    for node in plan.to_spec().nodes:
        nics = [
            {
                "pf_name": nic.pf_name,
                "pci_address": nic.pci_address,
                "resource_names": [],
                "num_vfs": nic.vf_count,
            }
            for nic in node.nics
        ]
        nodes.append({"name": node.name, "gpus": node.gpu_count, "nics": nics, "vf_resources": {}})
    return nodes


def test_discovery_comparisons_cost_the_same_for_one_or_many_plans(as_viewer, seed_plan):
    cluster = Cluster.objects.create(
        name="found", server="https://10.0.1.1:6443", discovered_at=timezone.now()
    )
    cluster.discovery = discovered(seed_plan)
    cluster.save()
    cluster.plans.add(seed_plan)
    url = reverse("cluster-detail", args=[cluster.pk])
    one = count(lambda: as_viewer.get(url))
    for name in ("second", "third"):
        cluster.plans.add(other_plan(name))
    many = count(lambda: as_viewer.get(url))
    assert many == one, (one, many)


def test_a_comparison_is_remembered_until_the_inventory_or_the_discovery_changes(seed_plan):
    cluster = Cluster.objects.create(
        name="found", server="https://10.0.1.1:6443", discovered_at=timezone.now()
    )
    cluster.discovery = discovered(seed_plan)
    cluster.save()
    cluster.plans.add(seed_plan)
    first = discovery_plans.comparisons(cluster)[0]
    assert first["counts"]["match"] > 32 and "differs" not in first["counts"]
    assert discovery_plans.comparisons(cluster)[0]["rows"] is first["rows"]  # remembered

    nic = NodeNIC.objects.filter(node__plan=seed_plan).order_by("pk").first()
    NodeNIC.objects.filter(pk=nic.pk).update(pf_name="renamed0")  # no signal, no timestamp
    changed = discovery_plans.comparisons(cluster)[0]
    assert changed["counts"]["differs"] == 1
    assert [row["planned"] for row in changed["rows"] if row["status"] == "differs"] == ["renamed0"]

    cluster.discovered_at = timezone.now()
    cluster.discovery = []
    cluster.save()
    gone = discovery_plans.comparisons(cluster)[0]
    assert set(gone["counts"]) == {"missing-in-cluster"}
