"""Query budgets of the rollout endpoints and pages this safety work touched: a fixed number of
queries however many rollouts (rollbacks, cancellations) there are, so no N+1."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters import rollout
from clusters.models import Rollout

pytestmark = pytest.mark.django_db


def history(cluster, plan, user, count: int) -> Rollout:
    """`count` finished rollouts, every other one a rollback of the first, each cancelled by
    `user` or not; returns the first."""
    first = None
    numbered = cluster.rollouts.filter(plan_slug=plan.slug).count()
    for index in range(count):
        record = Rollout.objects.create(
            cluster=cluster, plan=plan, plan_slug=plan.slug, revision=numbered + index + 1,
            state="succeeded" if index % 3 else "cancelled", bundle=rollout.render_for(plan, cluster),
            rollback_of=first if index % 2 else None, created_by=user,
            cancelled_by=user if index % 3 == 0 else None,
        )  # fmt: skip
        first = first or record
    return first


def queries(call, warm=True) -> int:
    if warm:
        call()  # the first request also reads the user's roles
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code < 400, response
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "path",
    [
        "/api/rollouts/",
        "/api/rollouts/{first}/",
        "/api/rollouts/{first}/rollback/",
        "/api/clusters/{cluster}/rollouts/",
    ],
)
def test_api_budgets(operator_api, lab_cluster, seed_plan, operator_user, path):
    first = history(lab_cluster, seed_plan, operator_user, 3)
    url = path.format(first=first.pk, cluster=lab_cluster.pk)
    few = queries(lambda: operator_api.get(url))
    history(lab_cluster, seed_plan, operator_user, 12)
    many = queries(lambda: operator_api.get(url))
    assert many == few and many <= 5, (url, few, many)


@pytest.mark.parametrize("name", ["rollout-detail", "rollout-rollback", "cluster-detail"])
def test_page_budgets(as_operator, lab_cluster, seed_plan, operator_user, name):
    first = history(lab_cluster, seed_plan, operator_user, 3)
    pk = lab_cluster.pk if name == "cluster-detail" else first.pk
    url = reverse(name, args=[pk])
    few = queries(lambda: as_operator.get(url))
    history(lab_cluster, seed_plan, operator_user, 12)
    many = queries(lambda: as_operator.get(url))
    assert many == few and many <= {"cluster-detail": 20}.get(name, 8), (url, few, many)


def test_cancel_budget(operator_api, lab_cluster, seed_plan):
    record = rollout.request_rollout(lab_cluster, seed_plan, None)
    operator_api.get(f"/api/rollouts/{record.pk}/")  # reads the user's roles
    url = f"/api/rollouts/{record.pk}/cancel/"
    assert queries(lambda: operator_api.post(url), warm=False) <= 12
