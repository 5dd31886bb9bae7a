"""Warm a web worker before its first request (gunicorn.conf.py's post_worker_init), and each
database connection it opens later (DB_CONN_MAX_AGE ends one every few minutes).

A new worker pays once for what every later request reuses: the modules and URL resolver the
API path uses on first call. A new connection pays once for the plans of the API's hot
statements (kept per connection, DB_PREPARE_THRESHOLD) and for compiling the database triggers
its writes fire. Paid here, the first requests cost what the next ones do. Nothing here
writes: the statements run for a row id that no table holds (a write that matches no row still
fires its statement-level triggers, which compiles them), and the requests are refused at
authentication.
"""

from __future__ import annotations

import gc
import io
import logging
import sys
import time

from django.db import DEFAULT_DB_ALIAS
from django.db import connection as django_connection
from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

NO_ROW = 0  # ids start at 1
NOT_A_TOKEN = "0" * 40
# A statement is prepared on its second run (DB_PREPARE_THRESHOLD=1); PostgreSQL then plans it
# afresh for its first five executions before it settles on the plan it keeps (plan_cache_mode
# auto). Seven runs leave every hot statement on its kept plan before the first request.
RUNS = 7
SIGNAL_ID = "railstudio.warmup"
REQUESTS = ("/healthz", "/api/", f"/api/rails/{NO_ROW}/available-ips/?limit=1")


def warm_worker(application=None, *, every_connection: bool = True) -> float:
    """Seconds spent; a failure is logged and never stops the worker. With `every_connection`,
    each database connection the worker opens from now on is warmed as it opens."""
    started = time.perf_counter()
    try:
        # A connection per request (DB_CONN_MAX_AGE=0) would pay the warming on every request.
        every_connection = every_connection and django_connection.settings_dict["CONN_MAX_AGE"] != 0
        if every_connection:
            connection_created.connect(_warm_new_connection, dispatch_uid=SIGNAL_ID)
        if every_connection and django_connection.connection is None:
            django_connection.ensure_connection()  # warmed as it opens
        else:
            warm_connection()
        _warm_requests(application)
    except Exception:
        logger.warning("could not warm this worker", exc_info=True)
    # What the worker holds now (modules, settings, URL patterns: 190,000 objects) lives as long
    # as it does. Out of the collector's way, a full collection during a request no longer walks
    # it: 100 ms here before, under 1 ms after.
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


def stop_warming_connections() -> None:
    connection_created.disconnect(dispatch_uid=SIGNAL_ID)


def _warm_new_connection(sender, connection, **kwargs) -> None:
    if connection.alias != DEFAULT_DB_ALIAS:
        return
    try:
        warm_connection()
    except Exception:  # a request is opening this connection: it goes on, only slower
        logger.warning("could not warm a new database connection", exc_info=True)


def warm_connection() -> None:
    """Run the API's hot statements until PostgreSQL keeps their plans, and the write paths'
    statements once they match no row."""
    from planner import allocation, freespace, revisions
    from planner.models import Rail
    from railstudio import roles, rows

    rail = Rail(pk=NO_ROW, index=0, subnet="10.0.0.0/24")
    for _ in range(RUNS):
        roles.user_by_token(NOT_A_TOKEN)
        rows.by_pk(Rail, NO_ROW)
        freespace.rail_with_first_free(NO_ROW, 1)
        freespace.first_free(rail, 1)
        freespace.next_free_prefix(rail, 28)
        freespace.overlapping(rail, (1, 2))
        freespace.hosts_within(rail, (1, 2))
        allocation.unaddressed(rail, count=1)
    if django_connection.vendor != "postgresql":
        return
    for _ in range(RUNS):
        rows.by_pk(Rail, NO_ROW, lock=True)
        hint = freespace.hint_statement(rail, [], 1)
        allocation.write_addresses([NO_ROW], ["10.0.0.1"], [1], hint)
        revisions.take_session_changes()
    _fire_statement_triggers()


def _fire_statement_triggers() -> None:
    """Compile the triggers a write to each planner table fires (planner.revisions' tables carry
    the hint triggers too), with writes of no row."""
    from planner import revisions

    with django_connection.cursor() as cursor:
        for table, _ in revisions.TABLES:
            cursor.execute(f"INSERT INTO {table} (id) SELECT id FROM {table} WHERE false")
            cursor.execute(f"UPDATE {table} SET id = id WHERE id = %s", [NO_ROW])
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [NO_ROW])


def _warm_requests(application) -> None:
    from django.urls import reverse

    if application is None:
        from railstudio.wsgi import application
    reverse("api-root")  # builds the URL reverse table (the API root's first answer took 15 ms)
    refusals = logging.getLogger("django.request")  # each 401 here would be logged as a warning
    level = refusals.level
    refusals.setLevel(logging.ERROR)
    try:
        for path in REQUESTS:
            for _ in range(RUNS):
                _call(application, path)
    finally:
        refusals.setLevel(level)


def _call(application, path: str) -> None:
    route, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "HTTP_AUTHORIZATION": f"Token {NOT_A_TOKEN}",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }
    body = application(environ, lambda status, headers, exc_info=None: None)
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
