"""With the broker down or frozen, queueing answers a clear 503 within seconds, and nothing says
202 for work that was not queued: a rollout or exec run that cannot be queued ends with the
reason instead of locking its cluster or waiting forever.

Down: a real refused connection (port 1 on loopback). Frozen: a Redis this test starts on its
own free port and pauses with SIGSTOP (it accepts connections and never answers)."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from clusters.models import ExecRun, Rollout
from railstudio import env

FROZEN_BOUND_SECONDS = 5


@pytest.fixture
def roles(db):
    from railstudio.roles import ensure_roles

    ensure_roles()  # a transactional test's flush removes the groups migrate made


def _use_broker(app, url: str, **conf):
    from tests.conftest import _reset_connections

    saved = {
        key: app.conf[key]
        for key in ("broker_url", "broker_transport_options", "task_publish_retry_policy")
    }
    app.conf.update(broker_url=url, **conf)
    _reset_connections(app)
    return saved


@pytest.fixture
def broker_down():
    from railstudio.celery import app
    from tests.conftest import _reset_connections

    saved = _use_broker(app, "redis://127.0.0.1:1/0", broker_transport_options={})
    yield app
    app.conf.update(saved)
    _reset_connections(app)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, on a free loopback port; always resumed and stopped."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs the redis-server binary")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def frozen_broker(own_redis):
    """Celery pointed at our own Redis, with the settings' timeouts; then the Redis paused."""
    from railstudio.celery import app
    from tests.conftest import _reset_connections

    process, url = own_redis
    saved = _use_broker(app, url, broker_transport_options=env.redis_transport_options())
    try:
        with app.connection_for_write() as connection:  # warm: a pooled, working connection
            connection.ensure_connection(max_retries=1)
        os.kill(process.pid, signal.SIGSTOP)
        yield app
    finally:
        os.kill(process.pid, signal.SIGCONT)
        app.conf.update(saved)
        _reset_connections(app)


def test_queueing_with_the_broker_down_is_a_503_not_a_500(
    operator_api, as_operator, lab_cluster, broker_down
):
    response = operator_api.post(f"/api/clusters/{lab_cluster.id}/test-connection/")
    assert response.status_code == 503 and "cannot be reached" in response.json()["detail"]
    page = as_operator.post(f"/clusters/{lab_cluster.id}/test/", HTTP_HX_REQUEST="true")
    assert page.status_code == 503 and "Is the broker running?" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_rollout_or_exec_that_cannot_be_queued_is_a_503_and_ends_with_the_reason(
    roles, operator_api, lab_cluster, seed_plan, broker_down
):
    url = f"/api/clusters/{lab_cluster.id}/rollouts/"
    started = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert started.status_code == 503, started.content
    assert "was not started" in started.json()["detail"]
    record = Rollout.objects.get()
    assert record.state == "failed" and "cannot be reached" in record.message
    again = operator_api.post(url, {"plan": seed_plan.slug}, format="json")
    assert again.status_code == 503  # not 409: the failed one does not lock the cluster
    assert Rollout.objects.filter(state="failed").count() == 2

    exec_url = f"/api/clusters/{lab_cluster.id}/pods/ai-training/p/exec/"
    ran = operator_api.post(exec_url, {"command": "ip -br addr"}, format="json")
    assert ran.status_code == 503
    run = ExecRun.objects.get()
    assert run.done and "cannot be reached" in run.error


@pytest.mark.django_db(transaction=True)
def test_a_frozen_broker_gives_a_503_within_seconds(
    roles, operator_api, as_operator, lab_cluster, seed_plan, frozen_broker
):
    timings = {}

    def timed(label, call):
        start = time.monotonic()
        response = call()
        timings[label] = time.monotonic() - start
        return response

    tested = timed(
        "POST test-connection",
        lambda: operator_api.post(f"/api/clusters/{lab_cluster.id}/test-connection/"),
    )
    assert tested.status_code == 503 and "cannot be reached" in tested.json()["detail"]
    refreshed = timed(
        "POST refresh", lambda: operator_api.post(f"/api/clusters/{lab_cluster.id}/refresh/")
    )
    assert refreshed.status_code == 503
    page = timed(
        "page Test connection",
        lambda: as_operator.post(f"/clusters/{lab_cluster.id}/test/", HTTP_HX_REQUEST="true"),
    )
    assert page.status_code == 503
    rolled = timed(
        "POST rollouts",
        lambda: operator_api.post(
            f"/api/clusters/{lab_cluster.id}/rollouts/", {"plan": seed_plan.slug}, format="json"
        ),
    )
    assert rolled.status_code == 503
    assert Rollout.objects.get().state == "failed"
    print("seconds to 503 with a frozen broker:", {k: round(v, 2) for k, v in timings.items()})
    assert max(timings.values()) < FROZEN_BOUND_SECONDS, timings
