"""A validation whose worker dies does not lock its cluster: the worker beats while it runs,
and a run without a heartbeat for ROLLOUT_STALE_SECONDS ends as failed (saying which probe
DaemonSet may be left), on the next request, on cancel and from Celery beat. The last test
kills a real worker (kill -9) mid-validation."""

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from clusters import tasks
from clusters.models import Validation
from clusters.validation import liveness, probe, runner
from planner import manifests
from tests.clusters.test_worker_loss import STALE_SECONDS, needs_redis, start_worker, stop_workers
from tests.helpers import wait_for


def _running(cluster, plan, quiet_seconds: float) -> Validation:
    long_ago = timezone.now() - timedelta(seconds=quiet_seconds)
    return Validation.objects.create(
        cluster=cluster, plan=plan, plan_slug=plan.slug, mode="quick", state="running",
        started_at=long_ago, heartbeat_at=long_ago,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_run_whose_worker_stopped_beating_no_longer_locks_the_cluster(
    operator_api, lab_cluster, seed_plan, settings
):
    settings.ROLLOUT_STALE_SECONDS = 60
    lost = _running(lab_cluster, seed_plan, quiet_seconds=90)
    url = f"/api/clusters/{lab_cluster.pk}/validations/"
    response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert response.status_code == 202, response.json()
    lost.refresh_from_db()
    assert lost.state == "failed" and lost.finished_at is not None
    assert lost.message.startswith("Interrupted: the worker running it stopped (no heartbeat for")
    assert f"{probe.name_for(lost.pk)} in ai-training may still be there" in lost.message


@pytest.mark.django_db
def test_a_fresh_heartbeat_keeps_the_lock(operator_api, lab_cluster, seed_plan, settings):
    settings.ROLLOUT_STALE_SECONDS = 60
    alive = _running(lab_cluster, seed_plan, quiet_seconds=5)
    url = f"/api/clusters/{lab_cluster.pk}/validations/"
    response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert response.status_code == 409
    assert f"#{alive.pk}" in response.json()["detail"]
    alive.refresh_from_db()
    assert alive.state == "running"


@pytest.mark.django_db
def test_reading_a_lost_run_shows_it_ended_and_beat_reaps_too(
    viewer_api, client, lab_cluster, seed_plan, settings, django_user_model
):
    settings.ROLLOUT_STALE_SECONDS = 60
    shown = _running(lab_cluster, seed_plan, quiet_seconds=61)
    assert viewer_api.get(f"/api/validations/{shown.pk}/").json()["state"] == "failed"
    shown.delete()
    _running(lab_cluster, seed_plan, quiet_seconds=120)
    assert tasks.reap_stale_rollouts() == 1
    assert not Validation.objects.filter(state="running").exists()


@pytest.mark.django_db
def test_cancelling_a_lost_run_ends_it_at_once(operator_api, lab_cluster, seed_plan, settings):
    settings.ROLLOUT_STALE_SECONDS = 60
    lost = _running(lab_cluster, seed_plan, quiet_seconds=300)
    response = operator_api.post(f"/api/validations/{lost.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["state"] == "failed"  # found lost on the way: it says so
    assert response.json()["message"].startswith("Interrupted: the worker running it stopped")
    other = _running(lab_cluster, seed_plan, quiet_seconds=300)
    assert runner.cancel(other).state == "cancelled"  # no reap before it: cancel itself ends it
    other.refresh_from_db()
    assert other.message.startswith("Cancelled: the worker running it stopped")


@pytest.mark.django_db(transaction=True)
def test_the_worker_beats_while_the_run_goes_on(lab_cluster, seed_plan, settings):
    settings.ROLLOUT_STALE_SECONDS = 2  # a beat every 0.2 s
    run = _running(lab_cluster, seed_plan, quiet_seconds=100)
    with liveness.Heartbeat(run.pk):
        first = Validation.objects.get(pk=run.pk).heartbeat_at
        time.sleep(0.7)
        later = Validation.objects.get(pk=run.pk).heartbeat_at
    assert timezone.now() - first < timedelta(seconds=1)
    assert later > first
    assert liveness.reap() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_killed_worker_mid_validation_unlocks_its_cluster(
    lab, lab_cluster, seed_plan, celery_broker, tmp_path, operator_api, settings
):
    """kill -9 while the probes are being tested: 409 while the heartbeat is fresh, 202 once it
    is ROLLOUT_STALE_SECONDS old, and the lost run says what it left behind."""
    needs_redis()
    from clusters.kube import Kube, Target

    settings.ROLLOUT_STALE_SECONDS = STALE_SECONDS
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    kube.ensure_namespace("ai-training")
    for obj in manifests.render_nads(seed_plan.to_spec()):
        kube.apply(obj)
    lab.set_fault(latency_ms=300)  # slow enough that the run is still going when killed
    worker = start_worker("doomed-validation", tmp_path / "doomed.log")
    try:
        url = f"/api/clusters/{lab_cluster.pk}/validations/"
        response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
        assert response.status_code == 202
        run_id = response.json()["id"]
        wait_for(
            lambda: (
                (run := Validation.objects.get(pk=run_id)).heartbeat_at
                and run.progress.get("phase") not in (None, "deploying")
            ),
            timeout=60,
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        lab.clear_faults()
        refusals = 0
        while True:
            response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
            if response.status_code != 409:
                break
            refusals += 1
            assert time.monotonic() - killed_at < STALE_SECONDS + 10, "the cluster stayed locked"
            time.sleep(0.2)
        unlocked_after = time.monotonic() - killed_at
        print(f"seconds to unlock after kill -9 mid-validation: {unlocked_after:.1f}")
        assert response.status_code == 202 and refusals > 0
        assert unlocked_after < STALE_SECONDS + 3
        lost = Validation.objects.get(pk=run_id)
        assert lost.state == "failed"
        assert probe.name_for(run_id) in lost.message
    finally:
        stop_workers(worker)


@pytest.mark.django_db
def test_a_worker_back_after_its_run_was_reaped_leaves_the_record_alone(
    lab_cluster, seed_plan, settings
):
    """A worker that was only stuck (not dead) finds its run ended: its next progress write
    stops it (the probe is removed on the way out) and its result is not written over the
    reason the run ended."""
    settings.ROLLOUT_STALE_SECONDS = 60
    stuck = _running(lab_cluster, seed_plan, quiet_seconds=120)
    held_by_the_worker = Validation.objects.get(pk=stuck.pk)
    assert liveness.reap() == 1
    with pytest.raises(runner.Lost):
        runner.Run(held_by_the_worker).progress("icmp", force=True)
    runner._finish(held_by_the_worker, "succeeded", "All 8 rails carry traffic.")
    stuck.refresh_from_db()
    assert stuck.state == "failed" and stuck.message.startswith("Interrupted:")
