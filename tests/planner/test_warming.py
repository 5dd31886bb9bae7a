"""A write to a big plan queues the computing of its first views (planner.warming), so the
first look after a change is served from the cache; small plans and failed writes queue
nothing. A real Celery worker runs the task."""

import pytest
from django.core.cache import cache

from planner import plancache, revisions, tasks, warming
from planner.api.manifests import pod_options, pod_strings_from_query
from planner.manifest_views import Controls
from planner.models import NodeNIC
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # each request commits, as in production


def manifests_cached(plan) -> bool:
    """The Manifests tab's default view and the manifests API's default answer, at the plan's
    current revision."""
    revision = revisions.current(plan.pk)[0]
    keys = [
        plancache.key(plan.pk, revision, "manifests-page", Controls().query()),
        plancache.key(
            plan.pk, revision, "manifests-api",
            ["yaml", "nad", "bundle", pod_options(pod_strings_from_query({}))],
        ),
    ]  # fmt: skip
    return all(plancache._get(key) is not plancache.MISSING for key in keys)


def test_a_change_to_a_big_plan_is_computed_by_a_worker(
    seed_plan, planner_api, celery_worker_thread, settings, monkeypatch
):
    nics = NodeNIC.objects.filter(rail__plan=seed_plan).count()
    assert nics > 0
    settings.PLAN_WARM_MIN_NICS = nics  # the seed plan counts as big here
    rail = seed_plan.rails.get(index=3)
    response = planner_api.post(
        "/api/exclusions/", {"rail": rail.pk, "cidr": "10.53.200.0/24"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert wait_for(lambda: manifests_cached(seed_plan), timeout=30)
    calls = []
    real = plancache.spec
    monkeypatch.setattr(
        plancache, "spec", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs)
    )
    answer = planner_api.get(f"/api/plans/{seed_plan.pk}/manifests/?format=yaml")
    assert answer.status_code == 200 and "10.53.200.0/24" in answer.content.decode()
    assert calls == []  # served from what the worker computed


def test_small_plans_are_not_warmed_and_refused_writes_queue_nothing(
    seed_plan, planner_api, settings
):
    nics = NodeNIC.objects.filter(rail__plan=seed_plan).count()
    settings.PLAN_WARM_MIN_NICS = nics + 1
    before = warming.last_change_id()
    rail = seed_plan.rails.get(index=3)
    response = planner_api.post(
        "/api/exclusions/", {"rail": rail.pk, "cidr": "10.53.201.0/24"}, format="json"
    )
    assert response.status_code == 201
    assert warming.plans_changed_since(before) == [seed_plan.pk]
    assert tasks.warm_plan(seed_plan.pk) is False  # too small: computed quickly when asked
    assert not manifests_cached(seed_plan)
    before = warming.last_change_id()
    refused = planner_api.post(
        "/api/exclusions/", {"rail": rail.pk, "cidr": "10.99.0.0/24"}, format="json"
    )
    assert refused.status_code == 400
    assert warming.plans_changed_since(before) == []


def test_one_warming_is_queued_per_plan_until_it_runs(seed_plan, settings, celery_broker):
    settings.PLAN_WARM_MIN_NICS = 1
    cache.delete(warming.pending_key(seed_plan.pk))
    assert warming.queue_warm([seed_plan.pk]) == [seed_plan.pk]
    assert warming.queue_warm([seed_plan.pk]) == []  # the queued one computes the latest
    assert warming.run(seed_plan.pk) is True and manifests_cached(seed_plan)
    assert warming.queue_warm([seed_plan.pk]) == [seed_plan.pk]  # ran: the next change queues


def test_the_triggers_note_what_a_connection_commits(require_postgres, seed_plan):
    """PostgreSQL: the plans this connection changed in committed transactions, read once;
    a rolled-back write leaves no note."""
    from django.db import connection, transaction

    from planner.models import Node, Plan

    revisions.take_session_changes()
    other = Plan.objects.create(name="Other", slug="other")
    Node.objects.create(plan=seed_plan, name="noted")
    with pytest.raises(RuntimeError), transaction.atomic():
        Node.objects.create(plan=other, name="undone")
        raise RuntimeError("roll back")
    assert revisions.take_session_changes() == sorted([seed_plan.pk, other.pk])
    assert revisions.take_session_changes() == []
    for number in range(3):  # a connection that never asks notes each plan once
        Node.objects.create(plan=seed_plan, name=f"again-{number}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [revisions.CHANGED_SETTING])
        assert cursor.fetchone()[0] == f"{seed_plan.pk},"
    assert revisions.take_session_changes() == [seed_plan.pk]
    with pytest.raises(RuntimeError), transaction.atomic():
        Node.objects.create(plan=seed_plan, name="undone")
        raise RuntimeError("roll back")
    assert revisions.take_session_changes() == []
