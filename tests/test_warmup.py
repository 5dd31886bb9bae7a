"""A web worker warms up before its first request (railstudio.warmup, gunicorn.conf.py), and so
does each database connection it opens later: nothing is written, and on PostgreSQL the API's
hot statements are prepared on the connection and settled on the plan PostgreSQL keeps."""

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from planner.models import FreeSpaceHint, PlanChange
from railstudio import warmup

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def connection_kept_across_requests():
    """As Django's test client does: a request's end must not close the test's connection
    (it is inside the test's transaction, which a worker's never is)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
    warmup.stop_warming_connections()  # only a gunicorn worker keeps warming its connections
    gc.unfreeze()  # nor keeps what it held at start out of the collector's way


def test_warming_writes_nothing(caplog):
    changes, hints = PlanChange.objects.count(), FreeSpaceHint.objects.count()
    seconds = warmup.warm_worker()
    assert warmup.warm_worker(every_connection=False) > 0
    assert "could not warm" not in caplog.text
    assert 0 < seconds < 30
    assert (PlanChange.objects.count(), FreeSpaceHint.objects.count()) == (changes, hints)
    assert not connection.needs_rollback


def test_the_hot_statements_are_prepared_on_postgresql(require_postgres):
    warmup.warm_worker()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = "\n".join(row[0] for row in cursor.fetchall())
    for fragment in ("t.key = $", "planner_freespacehint", "nic.host_ip IS NULL", "count(*)"):
        assert fragment in prepared, fragment


def test_the_hot_statements_have_settled_on_their_kept_plan(require_postgres):
    """PostgreSQL plans a prepared statement afresh for its first five runs; after warming, the
    first request runs each hot statement on the plan it keeps instead."""
    warmup.warm_worker()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        plans = cursor.fetchall()
    reads = ("t.key = $", "GREATEST(CAST", "CASE WHEN min(low)", "nic.host_ip IS NULL", "count(*)",
             "gap.first")  # fmt: skip
    for fragment in reads:  # (the allocator's write keeps whichever plan PostgreSQL finds best)
        kept = [generic for statement, generic in plans if fragment in statement]
        assert kept and all(generic >= 1 for generic in kept), (fragment, kept)


HOT = ("t.key = $", "planner_freespacehint", "nic.host_ip IS NULL", "count(*)", "NO KEY UPDATE")


def _prepared() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_each_new_connection_of_a_worker_is_warmed_as_it_opens(require_postgres, caplog):
    """DB_CONN_MAX_AGE ends a worker's connection every few minutes: the next one starts warm,
    the request that opens it goes on, and nothing is written."""
    changes, hints = PlanChange.objects.count(), FreeSpaceHint.objects.count()
    warmup.warm_worker()
    try:
        old_pid = connection.connection.info.backend_pid
        connection.close()
        connection.ensure_connection()  # what the next request's first query does
        assert connection.connection.info.backend_pid != old_pid
        prepared = _prepared()
    finally:
        warmup.stop_warming_connections()
    for fragment in HOT:
        assert any(fragment in statement for statement in prepared), fragment
    assert "could not warm" not in caplog.text
    assert (PlanChange.objects.count(), FreeSpaceHint.objects.count()) == (changes, hints)
    connection.close()
    connection.ensure_connection()  # not a worker's any more: opened cold
    assert not _prepared()


def test_what_the_worker_holds_after_warming_is_kept_out_of_the_collectors_way():
    warmup.warm_worker(every_connection=False)
    assert gc.get_freeze_count() > 10_000  # the modules, settings and URL patterns


def test_a_connection_per_request_is_not_warmed(monkeypatch):
    from django.db.backends.signals import connection_created

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    warmup.warm_worker()
    # else every request would pay the warming (disconnect says whether it was connected)
    assert not connection_created.disconnect(dispatch_uid=warmup.SIGNAL_ID)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)
    warmup.warm_worker()
    assert connection_created.disconnect(dispatch_uid=warmup.SIGNAL_ID)


def test_gunicorn_reads_the_warm_up_hook_from_the_repository():
    code = (
        "from gunicorn.config import Config; from gunicorn.app.base import Application; "
        "import runpy; hooks = runpy.run_path('gunicorn.conf.py'); "
        "print(sorted(name for name in hooks if not name.startswith('__')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "post_worker_init" in out.stdout
