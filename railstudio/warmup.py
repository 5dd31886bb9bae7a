"""Warm a web worker before its first request (gunicorn.conf.py's post_worker_init).

A new worker pays once for what every later request reuses: the database connection, the
plans of the API's hot statements (kept per connection, DB_PREPARE_THRESHOLD), the URL
resolver, and the modules the API path imports on first use. Paid at start, the first
requests a worker serves cost what the next ones do. Nothing here writes: the statements run
for a row id that no table holds, and the requests are refused at authentication.
"""

from __future__ import annotations

import io
import logging
import sys
import time

logger = logging.getLogger(__name__)

NO_ROW = 0  # ids start at 1
NOT_A_TOKEN = "0" * 40
# A statement is prepared on its second run (DB_PREPARE_THRESHOLD=1); PostgreSQL then plans it
# afresh for its first five executions before it settles on the plan it keeps (plan_cache_mode
# auto). Seven runs leave every hot statement on its kept plan before the first request.
RUNS = 7
REQUESTS = ("/healthz", "/api/", f"/api/rails/{NO_ROW}/available-ips/?limit=1")


def warm_worker(application=None) -> float:
    """Seconds spent; a failure is logged and never stops the worker."""
    started = time.perf_counter()
    try:
        _warm_statements()
        _warm_requests(application)
    except Exception:
        logger.warning("could not warm this worker", exc_info=True)
    return time.perf_counter() - started


def _warm_statements() -> None:
    from planner import allocation, freespace
    from planner.models import Rail
    from railstudio import roles, rows

    rail = Rail(pk=NO_ROW, index=0, subnet="10.0.0.0/24")
    for _ in range(RUNS):
        roles.user_by_token(NOT_A_TOKEN)
        rows.by_pk(Rail, NO_ROW)
        freespace.first_free(rail, 1)
        freespace.next_free_prefix(rail, 28)
        freespace.overlapping(rail, (1, 2))
        freespace.hosts_within(rail, (1, 2))
        allocation.unaddressed(rail, count=1)


def _warm_requests(application) -> None:
    if application is None:
        from railstudio.wsgi import application
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
