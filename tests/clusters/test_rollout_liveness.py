"""Rollouts that cannot lock a cluster: cancel (pending or running, page and API), a heartbeat
while running, and a running rollout whose worker stopped beating marked interrupted and its
cluster unlocked (on request and by beat). The exec API answers at once. (A worker killed with
kill -9 is in test_worker_loss.py.)"""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters import rollout, services, tasks
from clusters.models import ExecRun, Rollout, RolloutObject
from tests.helpers import wait_for


@pytest.fixture(autouse=True)
def roles(db):
    from railstudio.roles import ensure_roles

    ensure_roles()


def running_with_rows(cluster, plan, heartbeat_age: float, applied: int = 3) -> Rollout:
    """A running rollout as a worker leaves it: some rows applied, the rest pending."""
    now = timezone.now()
    record = rollout.request_rollout(cluster, plan, None)
    Rollout.objects.filter(pk=record.pk).update(
        state="running",
        started_at=now - timedelta(seconds=heartbeat_age + 5),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        attempts=1,
    )
    for position, obj in enumerate(record.bundle):
        RolloutObject.objects.create(
            rollout=record, position=position, api_version=obj["apiVersion"], kind=obj["kind"],
            namespace=obj["metadata"].get("namespace", ""), name=obj["metadata"]["name"],
            action="create", outcome="applied" if position < applied else "pending",
        )  # fmt: skip
    return Rollout.objects.get(pk=record.pk)


@pytest.mark.django_db
def test_a_pending_rollout_is_cancelled_at_once_and_unlocks_its_cluster(
    operator_api, lab_cluster, seed_plan
):
    url = f"/api/clusters/{lab_cluster.pk}/rollouts/"
    first = operator_api.post(url, {"plan": seed_plan.slug}, format="json").json()
    assert operator_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 409
    cancelled = operator_api.post(f"/api/rollouts/{first['id']}/cancel/")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelled" and body["cancelled_by"] == "otto"
    assert body["message"] == "Cancelled by otto; nothing was applied."
    assert operator_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 202
    again = operator_api.post(f"/api/rollouts/{first['id']}/cancel/")
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]


@pytest.mark.django_db
def test_the_page_cancels_too(as_operator, lab_cluster, seed_plan):
    record = rollout.request_rollout(lab_cluster, seed_plan, None)
    page = as_operator.get(record.get_absolute_url()).content.decode()
    assert reverse("rollout-cancel", args=[record.pk]) in page
    response = as_operator.post(reverse("rollout-cancel", args=[record.pk]))
    assert response.status_code == 302
    assert Rollout.objects.get(pk=record.pk).state == "cancelled"


@pytest.mark.django_db
def test_a_rollout_whose_worker_stopped_beating_is_interrupted_on_the_next_request(
    operator_api, lab_cluster, seed_plan, settings
):
    settings.ROLLOUT_STALE_SECONDS = 5
    alive = running_with_rows(lab_cluster, seed_plan, heartbeat_age=1)
    url = f"/api/clusters/{lab_cluster.pk}/rollouts/"
    assert operator_api.post(url, {"plan": seed_plan.slug}, format="json").status_code == 409
    Rollout.objects.filter(pk=alive.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=6))
    started = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert started.status_code == 202
    lost = Rollout.objects.get(pk=alive.pk)
    assert lost.state == "interrupted" and lost.finished_at
    assert lost.message.startswith("Interrupted: the worker running it stopped (no heartbeat")
    assert "3 object(s) applied before it stopped, 6 not applied" in lost.message
    outcomes = list(lost.items.values_list("outcome", flat=True))
    assert outcomes == ["applied"] * 3 + ["interrupted"] * 6
    shown = operator_api.get(f"/api/rollouts/{lost.pk}/").json()
    assert [row["outcome"] for row in shown["objects"]][3] == "interrupted"


@pytest.mark.django_db
def test_beat_interrupts_them_too(lab_cluster, seed_plan, settings):
    settings.ROLLOUT_STALE_SECONDS = 5
    stale = running_with_rows(lab_cluster, seed_plan, heartbeat_age=30)
    assert tasks.reap_stale_rollouts() == 1
    assert Rollout.objects.get(pk=stale.pk).state == "interrupted"
    assert tasks.reap_stale_rollouts() == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_rollout_beats_and_stops_before_its_next_write_when_cancelled(
    lab, lab_cluster, seed_plan, celery_worker_thread, operator_api, settings
):
    settings.ROLLOUT_STALE_SECONDS = 5  # a beat every 0.5 s
    settings.ROLLOUT_PARALLEL_CALLS = 1  # one write at a time, so some are still to do
    lab.set_fault(latency_ms=300)
    record = services.start_rollout(lab_cluster, seed_plan, None)
    wait_for(lambda: record.items.filter(outcome="applied").exists(), timeout=60)
    first_beat = Rollout.objects.get(pk=record.pk).heartbeat_at
    wait_for(lambda: Rollout.objects.get(pk=record.pk).heartbeat_at != first_beat, timeout=5)
    asked = operator_api.post(f"/api/rollouts/{record.pk}/cancel/")
    assert asked.status_code == 202 and asked.json()["cancel_requested_at"]
    done = wait_for(
        lambda: (r := Rollout.objects.get(pk=record.pk)).state != "running" and r, timeout=30
    )
    lab.clear_faults()
    outcomes = list(done.items.values_list("outcome", flat=True))
    applied, cancelled = outcomes.count("applied"), outcomes.count("cancelled")
    assert done.state == "cancelled" and 0 < applied < 9 and applied + cancelled == 9
    assert done.message == (
        f"Cancelled by otto; {applied} object(s) applied before it stopped, "
        f"{cancelled} not applied."
    )
    live = lab.request(
        "GET", "/apis/k8s.cni.cncf.io/v1/namespaces/ai-training/network-attachment-definitions"
    )[1]
    names = {
        row.name for row in done.items.filter(outcome="applied", kind="NetworkAttachmentDefinition")
    }
    assert {item["metadata"]["name"] for item in live["items"]} == names


# ---------------------------------------------------------------------------------------------
# Exec answers at once


@pytest.mark.django_db
def test_the_exec_api_answers_at_once_and_an_abandoned_run_ends(operator_api, lab_cluster):
    start = time.monotonic()
    response = operator_api.post(
        f"/api/clusters/{lab_cluster.pk}/pods/ai-training/p/exec/",
        {"command": "ip -br addr"},
        format="json",
    )
    assert time.monotonic() - start < 2  # no worker runs here: it used to wait 25 s
    body = response.json()
    assert response.status_code == 202 and response["Location"] == body["url"]
    assert body["url"].endswith(f"/api/exec-runs/{body['id']}/") and body["finished_at"] is None
    assert operator_api.get(body["url"]).json()["finished_at"] is None
    old = timezone.now() - timedelta(seconds=liveness_bound())
    ExecRun.objects.filter(pk=body["id"]).update(created_at=old)
    ended = operator_api.get(body["url"]).json()
    assert ended["finished_at"] and "No worker finished this command" in ended["error"]


def liveness_bound() -> int:
    from clusters.execution import ABANDONED_AFTER_SECONDS

    return ABANDONED_AFTER_SECONDS + 1
