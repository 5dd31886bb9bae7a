"""Shared fixtures: role users, API clients, the seed plan, and the rule that CI skips nothing."""

import os

import kombu.pools
import pytest
from django.db import connection

from railstudio.env import FILESYSTEM_BROKER

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop
TEST_QUEUE = f"railstudio-test-{os.getpid()}"

IN_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_configure(config):
    """Each test process gets its own Celery queue, so xdist workers sharing one Redis never take
    each other's tasks. Set before anything sends a task (kombu caches the queue map)."""
    from railstudio.celery import app

    app.conf.task_default_queue = TEST_QUEUE


def pytest_sessionfinish(session, exitstatus):
    """Under CI nothing may skip (a skipped test there is missing work) and nothing may warn (a
    clean run prints no warnings; the few accepted ones are filtered in pyproject.toml with the
    reason): either fails the run."""
    if not IN_CI or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run.", red=True)
        for report in skipped:
            reporter.write_line(f"  skipped: {report.nodeid} {report.longrepr}")
        session.exitstatus = 1
    warned = reporter.stats.get("warnings", [])
    if warned:
        reporter.write_line(f"CI=true: {len(warned)} warning(s); failing the run.", red=True)
        for report in warned:
            reporter.write_line(f"  warning: {report.nodeid or '(collection)'} {report.message}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url():
    """pytest-playwright's own `base_url` is a method of a plugin object, which pytest warns
    about on every run (PytestRemovedIn10Warning); the browser tests use live_server's URL."""
    return None


@pytest.fixture
def require_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL); this run uses {connection.vendor}")


def make_user(django_user_model, username: str, role: str | None):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return make_user(django_user_model, "vera", "viewer")


@pytest.fixture
def planner_user(db, django_user_model):
    return make_user(django_user_model, "pat", "planner")


@pytest.fixture
def operator_user(db, django_user_model):
    return make_user(django_user_model, "otto", "operator")


def _client_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def viewer_api(viewer):
    return _client_for(viewer)


@pytest.fixture
def planner_api(planner_user):
    return _client_for(planner_user)


@pytest.fixture
def operator_api(operator_user):
    return _client_for(operator_user)


@pytest.fixture
def as_viewer(client, viewer):
    """The Django test client, logged in as a viewer (as_planner, as_operator likewise)."""
    client.force_login(viewer)
    return client


@pytest.fixture
def as_planner(client, planner_user):
    client.force_login(planner_user)
    return client


@pytest.fixture
def as_operator(client, operator_user):
    client.force_login(operator_user)
    return client


@pytest.fixture
def seed_plan(db):
    from planner import documents
    from planner.seed import seed_plan_spec

    return documents.import_plan(documents.document_from_spec(seed_plan_spec()))


@pytest.fixture
def celery_broker(tmp_path):
    """A broker for this test process: Redis (its own queue) when REDIS_URL is set, else a
    filesystem folder, so a real worker runs on a machine without Redis."""
    from railstudio.celery import app

    saved = {
        key: app.conf[key]
        for key in ("broker_url", "broker_transport_options", "task_default_queue")
    }
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        from railstudio import env

        app.conf.broker_url = redis_url
        app.conf.broker_transport_options = {
            "visibility_timeout": 60,
            **env.redis_transport_options(),  # the bounded timeouts the product runs with
        }
    else:
        folder = tmp_path / "broker"
        (folder / "in").mkdir(parents=True)
        app.conf.broker_url = FILESYSTEM_BROKER
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "in"),
            "data_folder_out": str(folder / "in"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    assert app.conf.task_default_queue == TEST_QUEUE
    _reset_connections(app)
    if redis_url:
        app.control.purge()  # tasks a previous test left behind
    yield app
    app.conf.update(saved)
    _reset_connections(app)


def _reset_connections(app):
    """Drop pooled broker connections so the next use honours the new broker settings."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()  # its registry is keyed by URL, and would hand back the closed pool


@pytest.fixture
def celery_worker_thread(celery_broker):
    """A real Celery worker (solo pool, in a thread) consuming this test's queue."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_broker, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        yield celery_broker


@pytest.fixture
def lab(tmp_path):
    """A fresh seed lab cluster (4 nodes x 8 GPUs x 8 rails) over HTTPS on loopback."""
    from labsim.testing import SEED_SPEC, running_lab

    with running_lab(SEED_SPEC, tmp_path / "lab") as handle:
        yield handle
