"""A worker killed mid-rollout: another worker picks the task up and finishes every object.

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
    }
    command = [sys.executable, "-m", "celery", "-A", "railstudio", "worker", "--pool=solo",
               "--loglevel=info", "-n", f"{name}@%h", "-Q", TEST_QUEUE, "--without-heartbeat",
               "--without-gossip", "--without-mingle"]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_rollout_to_another(
    lab, lab_cluster, seed_plan, celery_broker, tmp_path
):
    if not os.environ.get("REDIS_URL"):
        pytest.skip(
            "needs Redis (REDIS_URL): the filesystem broker cannot redeliver a dead worker's task"
        )
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
        done = wait_for(
            lambda: (
                (r := Rollout.objects.get(pk=record.pk)).state not in ("pending", "running") and r
            ),
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
        for worker in (first, second):
            if worker and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
        time.sleep(0.1)
