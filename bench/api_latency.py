"""API latency over HTTP, beside NetBox's figures from issue 14 (NetBox 4.6.8, this machine).

Starts gunicorn (2 workers x 1 thread, DEBUG off) on 127.0.0.1 against a PostgreSQL database
it creates and drops, builds the data through the public API and times each operation several
times. Prints the median and p90 of each, NetBox's median and the ratio (NetBox / ours: above 1
means we are faster). Bounded: every request has a timeout, the server is stopped at the end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/api_latency.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "railstudio_bench_api"
TIMEOUT = 300  # seconds one request may take (the slowest is an import on an old build)

NETBOX_MS = {
    "GET available-ips?limit=50, empty /16": 6.8,
    "POST one address": 18.4,
    "POST one address, 5,000 allocated": 51.9,
    "POST 1,000 addresses in one request": 5040,
    "/8 rail with 10,000 exclusions: GET ?limit=50": 339,
    "one /24 via available-prefixes (POST)": 19.2,
    "add one exclusion to a rail that has 10,000": 26,
}


class Api:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def call(self, method: str, path: str, body=None, content_type="application/json"):
        """(status, parsed JSON or None, seconds)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        start = time.perf_counter()
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - start
        connection.close()
        parsed = json.loads(payload) if payload[:1] in (b"{", b"[") else None
        return response.status, parsed, elapsed

    def ok(self, method: str, path: str, body=None, **kwargs):
        status, parsed, elapsed = self.call(method, path, body, **kwargs)
        if status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {status}: {str(parsed)[:500]}")
        return parsed, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_database(url: str):
    import psycopg

    base = url.rsplit("/", 1)[0]
    return base, psycopg.connect(f"{base}/postgres", autocommit=True)


def prepare_database(url: str) -> tuple[str, str]:
    """A fresh bench database, migrated, with an admin and its token. Returns (url, token)."""
    base, admin = admin_database(url)
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")
    bench_url = f"{base}/{BENCH_DB}"
    env = {**os.environ, "DATABASE_URL": bench_url, "DEBUG": "0"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=600)
    script = (
        "from django.contrib.auth.models import User; "
        "from rest_framework.authtoken.models import Token; "
        "u = User.objects.create_superuser('bench', 'bench@example.com', 'bench-password'); "
        "print(Token.objects.create(user=u).key)"
    )
    token = subprocess.run(
        [*manage, "shell", "-c", script],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    return bench_url, token


def drop_database(url: str) -> None:
    _, admin = admin_database(url)
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def start_server(bench_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": bench_url, "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "railstudio.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "1",
            "--timeout",
            str(TIMEOUT),
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def nodes_csv(prefix: str, count: int, rails: int) -> str:
    lines = ["node,rail"]
    lines += [f"{prefix}-{n:05d},{r}" for n in range(count) for r in range(rails)]
    return "\n".join(lines) + "\n"


def plan(api: Api, slug: str, supernet: str, length: int, rails: int, **extra) -> dict:
    body = {"name": slug, "slug": slug, "supernet": supernet, "rail_prefix_length": length}
    body.update(rail_count=rails, **extra)
    created, _ = api.ok("POST", "/api/plans/", body)
    listed, _ = api.ok("GET", f"/api/rails/?plan={created['id']}&limit=100")
    return {"plan": created, "rails": sorted(listed["results"], key=lambda r: r["index"])}


def repeat(times: int, operation) -> list[float]:
    return [operation(i) for i in range(times)]


def wide_rail_document(count: int) -> dict:
    exclusions = [{"cidr": f"10.{i // 256}.{i % 256}.0/28"} for i in range(count)]
    return {
        "apiVersion": "railstudio.io/v1",
        "kind": "RailStudioPlan",
        "plan": {"name": "wide", "slug": "wide", "pod_cidr": "172.16.0.0/16", "rail_count": 1},
        "rails": [{"index": 0, "subnet": "10.0.0.0/8", "exclusions": exclusions}],
        "nodes": [],
    }


def run(api: Api, reps: int, import_reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}

    # A /16 rail with 8,000 NICs (imported), then addresses given one, then 1,000, at a time.
    slash16 = plan(api, "p16", "10.50.0.0/16", 16, 1)
    rail = slash16["rails"][0]["id"]
    api.ok("POST", f"/api/plans/{slash16['plan']['id']}/import-nodes/", nodes_csv("n", 8000, 1),
           content_type="text/plain")  # fmt: skip
    ips = f"/api/rails/{rail}/available-ips/"

    def get50(_):
        body, elapsed = api.ok("GET", f"{ips}?limit=50")
        assert body["count"] == 50, body
        return elapsed

    def post(count):
        def one(_):
            body, elapsed = api.ok("POST", ips, {"count": count})
            assert len(body["allocations"]) == count
            return elapsed

        return one

    times["GET available-ips?limit=50, empty /16"] = repeat(reps, get50)
    times["POST one address"] = repeat(reps, post(1))
    times["POST 1,000 addresses in one request"] = repeat(3, post(1000))
    allocated = reps + 3000
    if allocated < 5000:
        api.ok("POST", ips, {"count": 5000 - allocated})
    times["GET available-ips?limit=50, 5,000 allocated"] = repeat(reps, get50)
    times["POST one address, 5,000 allocated"] = repeat(reps, post(1))

    # available-prefixes on an empty /16
    prefixes = plan(api, "px", "10.60.0.0/16", 16, 1)["rails"][0]["id"]
    path = f"/api/rails/{prefixes}/available-prefixes/"
    times["one /24 via available-prefixes (GET)"] = repeat(
        reps, lambda _: api.ok("GET", f"{path}?prefix_length=24")[1]
    )
    times["one /24 via available-prefixes (POST)"] = repeat(
        reps, lambda _: api.ok("POST", path, {"prefix_length": 24})[1]
    )

    # A /8 rail with 10,000 exclusions (one plan import), then exclusions added one by one.
    wide, _ = api.ok("POST", "/api/plans/import/", wide_rail_document(10_000))
    listed, _ = api.ok("GET", f"/api/rails/?plan={wide['id']}")
    wide_rail = listed["results"][0]["id"]

    def wide_get(_):
        body, elapsed = api.ok("GET", f"/api/rails/{wide_rail}/available-ips/?limit=50")
        assert body["addresses"][0] == "10.0.0.16", body["addresses"][:1]
        return elapsed

    times["/8 rail with 10,000 exclusions: GET ?limit=50"] = repeat(reps, wide_get)
    times["add one exclusion to a rail that has 10,000"] = repeat(
        reps,
        lambda i: api.ok("POST", "/api/exclusions/", {"rail": wide_rail, "cidr": f"10.200.{i}.0/24"})[1],
    )  # fmt: skip

    # 4,096 nodes x 8 rails = 32,768 NICs in one import, each time into a new plan.
    def import_all(i):
        target = plan(api, f"imp{i}", f"10.{64 + 8 * i}.0.0/13", 16, 8)["plan"]["id"]
        body, elapsed = api.ok("POST", f"/api/plans/{target}/import-nodes/",
                               nodes_csv("gpu", 4096, 8), content_type="text/plain")  # fmt: skip
        assert body["nics_created"] == 32768, body
        return elapsed

    times["import-nodes, 32,768 NICs"] = repeat(import_reps, import_all)
    return times


def report(times: dict[str, list[float]]) -> None:
    print(f"{'operation':<50} {'median':>10} {'p90':>10} {'NetBox':>9} {'ratio':>7}  n")
    for name, samples in times.items():
        ordered = sorted(samples)
        median = statistics.median(ordered) * 1000
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))] * 1000
        netbox = NETBOX_MS.get(name)
        theirs = f"{netbox:>7.1f}ms" if netbox else f"{'':>9}"
        ratio = f"{netbox / median:>7.2f}" if netbox else f"{'':>7}"
        print(f"{name:<50} {median:>8.1f}ms {p90:>8.1f}ms {theirs} {ratio}  {len(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per single call")
    parser.add_argument("--import-reps", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (the bench creates its own DB)")
    bench_url, token = prepare_database(url)
    port = free_port()
    server = start_server(bench_url, port)
    try:
        started = time.monotonic()
        times = run(Api(port, token), args.reps, args.import_reps)
        print(f"gunicorn 2x1, PostgreSQL, DEBUG off; data built and timed in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        report(times)
    finally:
        server.terminate()
        server.wait(timeout=30)
        drop_database(url)


if __name__ == "__main__":
    main()
