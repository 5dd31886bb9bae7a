"""Query budgets of every API list and detail endpoint and every main page (issue 14), from the
table in tests/query_counts.json (as NetBox keeps ipam/tests/query_counts.json).

Each endpoint is read with a few objects of every kind, then with three times as many (more
plans, rails, exclusions, nodes and NICs, clusters, rollouts, validations, pods, exec runs,
some on the very objects the detail pages show): the count must not change (no N+1) and must
stay within the budget. The API's and the pages' URL patterns are enumerated, so a new
endpoint or page without a budget (or a stated reason to have none) fails here.
"""

import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, reverse

from clusters.models import Cluster, ExecRun, PodStatus
from planner import ipam
from planner.models import Exclusion, InventoryImport, Node, NodeNIC, Plan, Rail
from tests.clusters.test_rollout_query_budgets import history
from tests.clusters.test_validation_api import _finished_run

pytestmark = pytest.mark.django_db

TABLE = json.loads((Path(__file__).parent / "query_counts.json").read_text())


def url_names(patterns) -> set[str]:
    names = set()

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(pattern.name)

    walk(patterns)
    return names


def api_names() -> set[str]:
    from railstudio import api_urls

    return url_names(api_urls.urlpatterns)


def page_names() -> set[str]:
    """Every named route outside the API and the admin."""
    from railstudio import urls

    admin = {p for p in urls.urlpatterns if str(getattr(p, "pattern", "")).startswith("admin/")}
    return url_names([p for p in urls.urlpatterns if p not in admin]) - api_names()


def test_every_api_endpoint_has_a_budget_or_a_reason():
    budgeted = set(TABLE["api"]) | set(TABLE["api_without_budget"])
    assert api_names() - budgeted == set(), "give these endpoints a budget in query_counts.json"
    assert budgeted - api_names() == set(), "these names are no API endpoints (any more)"
    for name in api_names():
        if name.endswith(("-list", "-detail")):
            assert name in TABLE["api"], f"{name}: every list and detail endpoint has a budget"


def test_every_page_has_a_budget_or_a_reason():
    budgeted = set(TABLE["pages"]) | set(TABLE["pages_without_budget"])
    assert page_names() - budgeted == set(), "give these pages a budget in query_counts.json"
    assert budgeted - page_names() == set(), "these names are no pages (any more)"


class World:
    """The subject objects the detail URLs name, and `grow` to add more of everything."""

    def __init__(self, user):
        self.user = user
        self.grown = 0
        self.plan = Plan.objects.create(name="Subject", slug="subject", pod_cidr="172.31.0.0/16")
        self.rails = [
            Rail.objects.create(plan=self.plan, index=i, subnet=f"10.{80 + i}.0.0/16")
            for i in range(2)
        ]
        self.cluster = Cluster.objects.create(name="subject", server="https://127.0.0.1:1")
        self.cluster.plans.add(self.plan)
        self.grow(2)
        self.exclusion = Exclusion.objects.filter(rail__plan=self.plan).order_by("pk").first()
        self.node = self.plan.nodes.order_by("pk").first()
        self.nic = NodeNIC.objects.filter(node=self.node).order_by("pk").first()
        self.rollout = self.cluster.rollouts.order_by("pk").first()
        self.validation = self.cluster.validations.order_by("pk").first()
        self.exec_run = self.cluster.exec_runs.order_by("pk").first()
        self.pod = self.cluster.pods.order_by("pk").first()
        self.inventory_import = self.plan.imports.order_by("pk").first()

    def grow(self, count: int) -> None:
        for _ in range(count):
            n = self.grown = self.grown + 1
            other = Plan.objects.create(name=f"Other {n}", slug=f"other-{n}")
            for i in range(2):
                Rail.objects.create(plan=other, index=i, subnet=f"10.{100 + n}.{i}.0/24")
            cluster = Cluster.objects.create(name=f"other-{n}", server="https://127.0.0.1:1")
            cluster.plans.add(other, self.plan)
            node = Node.objects.create(plan=self.plan, name=f"node-{n:02d}")
            for rail in self.rails:
                base = ipam.span_of(rail.subnet)[0]
                NodeNIC.objects.create(
                    node=node, rail=rail, host_ip=ipam.int_to_ip(base + 10 + n), pf_name="ens1"
                )
                Exclusion.objects.create(
                    rail=rail, cidr=f"{ipam.int_to_ip(base + 256 * (10 + n))}/24", note=f"{n}"
                )
            history(self.cluster, self.plan, self.user, 1)
            _finished_run(self.cluster, self.plan, created_by=self.user)
            InventoryImport.objects.create(
                plan=self.plan, created_by=self.user, state="succeeded", filename=f"{n}.csv",
                total=2, done=2, result={"nodes_created": 1},
            )  # fmt: skip
            ExecRun.objects.create(
                cluster=self.cluster, namespace="default", pod=f"pod-{n}", command="ip-addr",
                requested_by=self.user, stdout="ok",
            )  # fmt: skip
            PodStatus.objects.create(
                cluster=self.cluster, namespace="default", name=f"pod-{n}", node="node-01",
                ok=n % 2 == 0, problems=n % 2, codes="" if n % 2 == 0 else "NAD_MISSING",
                report={"name": f"pod-{n}", "namespace": "default"},
            )  # fmt: skip

    def api_url(self, name: str) -> str:
        args = {
            "api-plan-detail": [self.plan.pk],
            "api-plan-utilization": [self.plan.pk],
            "api-plan-export": [self.plan.pk],
            "api-rail-detail": [self.rails[0].pk],
            "api-rail-available-ips": [self.rails[0].pk],
            "api-rail-available-prefixes": [self.rails[0].pk],
            "api-exclusion-detail": [self.exclusion.pk],
            "api-node-detail": [self.node.pk],
            "api-nic-detail": [self.nic.pk],
            "api-cluster-detail": [self.cluster.pk],
            "api-cluster-pods": [self.cluster.pk],
            "api-cluster-pod": [self.cluster.pk, self.pod.namespace, self.pod.name],
            "api-cluster-rollouts": [self.cluster.pk],
            "api-cluster-discovery": [self.cluster.pk],
            "api-rollout-detail": [self.rollout.pk],
            "api-exec-run-detail": [self.exec_run.pk],
            "api-validation-detail": [self.validation.pk],
            "plan-manifests-api": [self.plan.slug],
            "cluster-validations": [self.cluster.pk],
            "api-inventory-import-detail": [self.inventory_import.pk],
        }.get(name, [])
        return reverse(name, args=args)

    def page_url(self, name: str) -> str:
        args = {
            "plan-detail": [self.plan.slug],
            "plan-nodes": [self.plan.slug],
            "plan-manifests": [self.plan.slug],
            "plan-rollouts-page": [self.plan.slug],
            "cluster-detail": [self.cluster.pk],
            "cluster-pods": [self.cluster.pk],
            "rollout-detail": [self.rollout.pk],
            "validation-detail": [self.validation.pk],
            "validation-live": [self.validation.pk],
            "validation-report": [self.validation.pk],
            "validation-json": [self.validation.pk],
            "plan-validations": [self.plan.slug],
            "plan-manifests-download": [self.plan.slug],
            "node-import-job": [self.plan.slug, self.inventory_import.pk],
            "cluster-pod": [self.cluster.pk, self.pod.namespace, self.pod.name],
            "cluster-pods-table": [self.cluster.pk],
            "cluster-connection": [self.cluster.pk],
            "cluster-drift": [self.cluster.pk],
            "cluster-discovery": [self.cluster.pk],
            "rollout-live": [self.rollout.pk],
            "dashboard-section": ["problems"],
        }.get(name, [])
        return reverse(name, args=args)


def count_queries(client, url: str) -> int | str:
    client.get(url)  # the first request also reads the user's roles
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.content[:200]!r}"
    return len(captured.captured_queries)


def check(client, world: World, names, url_of) -> None:
    few = {name: count_queries(client, url_of(name)) for name in names}
    world.grow(4)
    many = {name: count_queries(client, url_of(name)) for name in names}
    budgets = {**TABLE["api"], **TABLE["pages"]}
    problems = [
        f"{name}: {few[name]} queries with few objects, {many[name]} with more, budget "
        f"{budgets[name]}"
        for name in names
        if many[name] != few[name] or isinstance(many[name], str) or many[name] > budgets[name]
    ]
    assert not problems, "\n".join(problems)


def test_api_query_budgets(operator_api, operator_user):
    world = World(operator_user)
    check(operator_api, world, sorted(TABLE["api"]), world.api_url)


def test_page_query_budgets(as_operator, operator_user):
    world = World(operator_user)
    check(as_operator, world, sorted(TABLE["pages"]), world.page_url)
