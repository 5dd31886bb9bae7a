"""The per-request health check (railstudio.postgresql) asks the socket, not the server: a
connection the server has ended is replaced before the request's first query, a healthy one is
kept, and neither costs a statement. The ending is real: pg_terminate_backend from another
session, as an administrator or a restart does it."""

import select

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

pytestmark = pytest.mark.django_db(transaction=True)

GOODBYE_WAIT = 10  # seconds the server may take to close the ended session's socket


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    assert ended, f"backend {pid} was not ended"


def _wait_until_readable(raw) -> None:
    poller = select.poll()
    poller.register(raw.fileno(), select.POLLIN)
    assert poller.poll(GOODBYE_WAIT * 1000), "the server did not close the session"


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_postgresql_engine_is_ours_with_health_checks_on(require_postgres):
    assert settings.DATABASES["default"]["ENGINE"] == "railstudio.postgresql"
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_an_ended_session_is_replaced_before_the_next_request_queries(require_postgres):
    first = _backend_pid()
    raw = connection.connection
    assert connection.is_usable()
    _terminate(first)
    _wait_until_readable(raw)
    assert not connection.is_usable()

    close_old_connections()  # a request's start: the next query runs the health check
    assert _backend_pid() != first  # a new session answered, no error reached the caller
    assert connection.is_usable()


def test_a_healthy_connection_is_kept_and_the_check_sends_nothing(require_postgres, tmp_path):
    first = _backend_pid()
    raw = connection.connection
    trace = tmp_path / "libpq-trace"
    with trace.open("w") as sink:
        raw.pgconn.trace(sink.fileno())  # libpq writes every message it sends or receives
        try:
            for _ in range(3):
                assert connection.is_usable()
            close_old_connections()  # a request's start, then its first query
            assert _backend_pid() == first
        finally:
            raw.pgconn.untrace()
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    statements = [
        fields for fields in sent if fields[1] == "F" and fields[3] in ("Execute", "Query")
    ]
    assert len(statements) == 1  # the request's own query, and no health-check statement
    assert any("pg_backend_pid()" in fields[-1] for fields in sent if fields[1] == "F")
    assert connection.connection is raw


def test_a_connection_left_in_a_failed_transaction_is_checked_by_the_server(require_postgres):
    connection.ensure_connection()
    raw = connection.connection
    raw.execute("BEGIN")
    with pytest.raises(psycopg.errors.DivisionByZero):
        raw.execute("SELECT 1 / 0")
    assert not connection.is_usable()  # SELECT 1 fails in an aborted transaction
    raw.execute("ROLLBACK")
    assert connection.is_usable()
