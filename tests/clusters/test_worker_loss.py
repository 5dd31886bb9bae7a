"""A worker killed mid-rollout (a separate process, kill -9): its cluster unlocks within the
heartbeat bound, and the redelivered task resumes the rollout, or leaves it interrupted when a
newer rollout was asked for meanwhile.

Needs Redis: the filesystem broker cannot redeliver a message whose consumer died."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from kubernetes import client as k8s

from clusters import services
from clusters.models import Rollout
from tests.conftest import TEST_QUEUE
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 6
STALE_SECONDS = 4  # ROLLOUT_STALE_SECONDS for these tests: a heartbeat every 0.4 s


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def start_worker(name: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": TEST_QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "ROLLOUT_STALE_SECONDS": str(STALE_SECONDS),
    }
    command = [sys.executable, "-m", "celery", "-A", "railstudio", "worker", "--pool=solo",
               "--loglevel=info", "-n", f"{name}@%h", "-Q", TEST_QUEUE, "--without-heartbeat",
               "--without-gossip", "--without-mingle"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def needs_redis():
    if not os.environ.get("REDIS_URL"):
        pytest.skip(
            "needs Redis (REDIS_URL): the filesystem broker cannot redeliver a dead worker's task"
        )


def stop_workers(*workers) -> None:
    for worker in workers:
        if worker and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_rollout_to_another(
    lab, lab_cluster, seed_plan, celery_broker, tmp_path
):
    needs_redis()
    lab.set_fault(latency_ms=250)  # ~9 objects x 3 calls: several seconds of work to interrupt
    first = start_worker("first", tmp_path / "first.log")
    second = None
    try:
        record = services.start_rollout(lab_cluster, seed_plan, None)
        wait_for(
            lambda: Rollout.objects.get(pk=record.pk).items.filter(outcome="applied").exists(),
            timeout=60,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = Rollout.objects.get(pk=record.pk)
        assert killed_at.state == "running"
        assert killed_at.items.filter(outcome="applied").count() < 9  # it really died mid-way
        lab.clear_faults()
        second = start_worker("second", tmp_path / "second.log")
        # The redelivered task first marks the rollout interrupted (its worker stopped beating),
        # then resumes it: "interrupted" may show for a moment on the way.
        done = wait_for(
            lambda: (r := Rollout.objects.get(pk=record.pk)).state in ("succeeded", "failed") and r,
            timeout=VISIBILITY_TIMEOUT + 60,
        )
        assert done.state == "succeeded", done.message
        assert done.attempts == 2  # executed once by each worker
        api = k8s.CustomObjectsApi(lab.api_client())
        nads = api.list_namespaced_custom_object(
            "k8s.cni.cncf.io", "v1", "ai-training", "network-attachment-definitions"
        )
        assert len(nads["items"]) == 8
    finally:
        stop_workers(first, second)


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_unlocks_its_cluster_within_the_heartbeat_bound(
    lab, lab_cluster, seed_plan, celery_broker, tmp_path, operator_api, settings
):
    """kill -9 mid-rollout, then an operator keeps asking for a new rollout: 409 while the
    dead worker's heartbeat is fresh, 202 once it is ROLLOUT_STALE_SECONDS old. The old
    rollout ends interrupted (its rows say what was applied); when its task comes back, the
    newer rollout supersedes it, so it stays interrupted and the new one finishes the job."""
    needs_redis()
    from railstudio.roles import ensure_roles

    ensure_roles()
    settings.ROLLOUT_STALE_SECONDS = STALE_SECONDS
    lab.set_fault(latency_ms=250)
    first = start_worker("doomed", tmp_path / "doomed.log")
    second = None
    try:
        record = services.start_rollout(lab_cluster, seed_plan, None)
        wait_for(
            lambda: Rollout.objects.get(pk=record.pk).items.filter(outcome="applied").exists(),
            timeout=60,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        lab.clear_faults()
        url = f"/api/clusters/{lab_cluster.pk}/rollouts/"
        refusals = 0
        while True:
            response = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
            if response.status_code != 409:
                break
            refusals += 1
            assert time.monotonic() - killed_at < STALE_SECONDS + 10, "the cluster stayed locked"
            time.sleep(0.2)
        unlocked_after = time.monotonic() - killed_at
        assert response.status_code == 202 and refusals > 0
        print(f"seconds to unlock after kill -9: {unlocked_after:.1f} (bound {STALE_SECONDS} s)")
        assert unlocked_after < STALE_SECONDS + 3

        lost = Rollout.objects.get(pk=record.pk)
        applied = lost.items.filter(outcome="applied").count()
        assert lost.state == "interrupted" and 0 < applied < 9
        assert f"{applied} object(s) applied before it stopped, {9 - applied} not applied" in (
            lost.message
        )
        assert set(lost.items.exclude(outcome="applied").values_list("outcome", flat=True)) == {
            "interrupted"
        }

        second = start_worker("second", tmp_path / "second.log")
        newer = wait_for(
            lambda: (r := Rollout.objects.get(pk=response.json()["id"])).state == "succeeded" and r,
            timeout=60,
        )
        assert newer.attempts == 1
        time.sleep(VISIBILITY_TIMEOUT + 3)  # the dead worker's task comes back by now
        assert Rollout.objects.get(pk=record.pk).state == "interrupted"  # superseded: not rerun
        assert not Rollout.objects.filter(state__in=["pending", "running"]).exists()
    finally:
        stop_workers(first, second)
