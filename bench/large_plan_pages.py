"""Issue 16: every page and API call on a large plan (4,096 nodes x 8 rails by default), on a real
server (gunicorn, 2 workers) and PostgreSQL (or DATABASE_URL's database).

It creates a scratch database, builds the plan through the public API as a user would (create
the plan, import the inventory as CSV, allocate every host IP), starts gunicorn, times each page
and API call (the first request and the median of the next ones), prints sizes, and counts each
one's queries in-process (django.test.Client on the same database). Then it stops the server
and drops the database.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python \
    bench/large_plan_pages.py [--nodes 4096] [--rails 8] [--repeat 7] [--import-chunk 0]

`--import-chunk N` sends the inventory in requests of N rows (0: all in one request).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _django import scratch_database
from hostile_requests import database_url, free_port

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TIMEOUT = 600


def start_server(connection, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(connection), "DEBUG": ""}
    command = [sys.executable, "-m", "gunicorn", "railstudio.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--timeout", "30", "--log-level", "warning"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _, _ = request(port, {}, "GET", "/healthz")
        if status:
            return server
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not start; see {log}")


def start_worker(connection, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(connection)}
    command = [sys.executable, "-m", "celery", "-A", "railstudio", "worker", "--pool", "solo"]
    command += ["--loglevel", "warning", "--without-heartbeat", "--without-gossip"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def request(port: int, headers: dict, method: str, path: str, body=None, content_type=None):
    """(status, seconds, body bytes); status 0 when the server gave no answer."""
    headers = dict(headers)
    if body is not None:
        if not isinstance(body, bytes | str):
            body, content_type = json.dumps(body), "application/json"
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        return response.status, time.perf_counter() - started, answer
    except (OSError, http.client.HTTPException) as error:
        return 0, time.perf_counter() - started, str(error).encode()
    finally:
        connection.close()


def users() -> tuple[dict, dict, object]:
    """API headers (a token) and page headers (a session cookie) of one operator."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from railstudio.roles import ensure_roles

    ensure_roles()
    user = get_user_model().objects.create_user(username="bench", password="x" * 16)
    user.groups.add(Group.objects.get(name="operator"))
    client = Client()
    client.force_login(user)
    api = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    page = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    return api, page, client


def inventory_csv(nodes: int, rails: int) -> list[str]:
    rows = []
    for n in range(nodes):
        for r in range(rails):
            rows.append(
                f"gpu-{n:05d},8,{r},ens{r}f0np0,0000:{r + 0x1A:02x}:00.0,{r // 4},8,mlx5_{r},,"
                f"rack=r{n // 32:03d}"
            )
    return rows


def wait_for_job(port: int, api: dict, url: str) -> tuple[dict, list]:
    deadline = time.monotonic() + IMPORT_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        status, _, body = request(port, api, "GET", url)
        job = json.loads(body) if status == 200 else {"state": f"HTTP {status}"}
        seen.append((job.get("done"), job.get("total")))
        if job.get("state") in ("succeeded", "failed"):
            return job, seen
        time.sleep(0.5)
    raise SystemExit(f"the import job did not finish in {IMPORT_TIMEOUT} s")


def build_plan(port: int, api: dict, nodes: int, rails: int, chunk: int) -> dict:
    figures = {}
    prefix = 16 if nodes <= 60_000 else 15
    body = {"name": "Large", "supernet": "10.0.0.0/8", "rail_count": rails}
    body["rail_prefix_length"] = prefix
    status, seconds, answer = request(port, api, "POST", "/api/plans/", body)
    if status != 201:
        raise SystemExit(f"creating the plan answered {status}: {answer[:300]!r}")
    plan = json.loads(answer)
    header = "node,gpu_count,rail,pf_name,pci_address,numa_node,vf_count,rdma_device,host_ip,labels"
    rows = inventory_csv(nodes, rails)
    chunk = chunk or len(rows)
    started = time.perf_counter()
    answers = []
    for first in range(0, len(rows), chunk):
        text = "\n".join([header, *rows[first : first + chunk]]) + "\n"
        path = f"/api/plans/{plan['slug']}/import-nodes/"
        status, _, answer = request(port, api, "POST", path, text, "text/csv")
        if status == 202:
            job, seen = wait_for_job(port, api, json.loads(answer)["url"])
            answers.append((status, job["state"], len(set(seen))))
        elif status == 200:
            answers.append((status, "done", 0))
        else:
            raise SystemExit(f"the import answered {status}: {answer[:300]!r}")
    figures["import"] = (time.perf_counter() - started, answers)
    path = f"/api/plans/{plan['slug']}/allocate-host-ips/"
    status, seconds, answer = request(port, api, "POST", path)
    if status != 200:
        raise SystemExit(f"allocating answered {status}: {answer[:300]!r}")
    figures["allocate"] = (seconds, json.loads(answer)["total"])
    return {"plan": plan, "figures": figures}


def calls(plan: dict) -> list[tuple[str, str, str]]:
    slug, pk = plan["slug"], plan["id"]
    return [
        ("plan page (IP map)", "page", f"/plans/{slug}/"),
        ("nodes page", "page", f"/plans/{slug}/nodes/"),
        ("manifests page", "page", f"/plans/{slug}/manifests/"),
        ("manifests API yaml", "api", f"/api/plans/{pk}/manifests/?format=yaml"),
        ("manifests API json", "api", f"/api/plans/{pk}/manifests/?format=json"),
        ("export yaml", "api", f"/api/plans/{pk}/export/?format=yaml"),
        ("export json", "api", f"/api/plans/{pk}/export/?format=json"),
        ("utilisation API", "api", f"/api/plans/{pk}/utilization/"),
        ("dashboard", "page", "/"),
    ]


def query_count(client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=4096)
    parser.add_argument("--rails", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--import-chunk", type=int, default=0)
    args = parser.parse_args()
    with scratch_database() as connection:
        api, page, client = users()
        port = free_port()
        logs = Path(tempfile.mkdtemp(prefix="railstudio-large-plan-"))
        server = start_server(connection, port, logs / "gunicorn.log")
        worker = start_worker(connection, logs / "worker.log")
        try:
            built = build_plan(port, api, args.nodes, args.rails, args.import_chunk)
            nics = args.nodes * args.rails
            seconds, answers = built["figures"]["import"]
            print(
                f"plan: {args.nodes} nodes x {args.rails} rails = {nics} NICs ({connection.vendor})"
            )
            print(f"import {nics} rows in {len(answers)} request(s): {seconds:.1f} s {answers[:3]}")
            seconds, total = built["figures"]["allocate"]
            print(f"allocate every host IP: {seconds:.2f} s ({total} addresses)")
            print(f"{'what':<22} {'first ms':>9} {'median ms':>10} {'size':>10} {'queries':>8}")
            for label, kind, path in calls(built["plan"]):
                headers = api if kind == "api" else page
                times, size = [], 0
                for _ in range(args.repeat + 1):
                    status, seconds, body = request(port, headers, "GET", path)
                    if status != 200:
                        raise SystemExit(f"{path} answered {status}: {body[:300]!r}")
                    times.append(seconds * 1000)
                    size = len(body)
                client_path = path
                count = query_count(client, client_path)
                median = statistics.median(times[1:])
                print(
                    f"{label:<22} {times[0]:>9.0f} {median:>10.0f} {size / 1024:>8.0f} K {count:>8}"
                )
        finally:
            for process in (server, worker):
                process.terminate()
            for process in (server, worker):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


if __name__ == "__main__":
    main()
