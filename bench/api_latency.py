"""API latency over HTTP, beside NetBox's figures from issue 14 (NetBox 4.6.8, this machine).

Starts gunicorn (2 workers x 1 thread, DEBUG off) on 127.0.0.1 against a PostgreSQL database
it creates and drops, builds the data through the public API and times each operation several
times. Prints, per operation, the median and p90 seen by the client (HTTP on loopback included)
and the median server time (gunicorn's access log, %(D)s), NetBox's median and the ratio
(NetBox / our client median: above 1 means we are faster). Two floor rows show what any call
costs here: /healthz (no database) and the authenticated API root. Bounded: every request has
a timeout, the server is stopped at the end.

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
import tempfile
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
        self.sent: list[str] = []  # "METHOD path" of each request, to match the access log

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
        self.sent.append(f"{method} {path.split('?')[0]}")
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


def postgres_answers(url: str) -> bool:
    import psycopg

    try:
        admin_database(url)[1].close()
    except psycopg.OperationalError:
        return False
    return True


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


def start_server(bench_url: str, port: int, access_log: Path) -> subprocess.Popen:
    # Imports run in the request, so their time is the import's own (the worker runs the same
    # function for a big file by default: bench/large_plan_pages.py times that path).
    # Its own var/ (broker, keys): the warm-up tasks its writes queue must not wait in the demo's
    # broker for a worker to run them against the demo's database.
    env = {**os.environ, "DATABASE_URL": bench_url, "DEBUG": "0", "LOG_LEVEL": "WARNING",
           "RAILSTUDIO_SYNC_IMPORT_BYTES": str(64 * 1024 * 1024),
           "RAILSTUDIO_VAR_DIR": str(access_log.parent / "var")}  # fmt: skip
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
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
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


def nodes_csv(prefix: str, count: int, rails: int, pf_name: str | None = None) -> str:
    if pf_name:
        lines = ["node,rail,pf_name"]
        lines += [f"{prefix}-{n:05d},{r},{pf_name}" for n in range(count) for r in range(rails)]
    else:
        lines = ["node,rail"]
        lines += [f"{prefix}-{n:05d},{r}" for n in range(count) for r in range(rails)]
    return "\n".join(lines) + "\n"


def plan(api: Api, slug: str, supernet: str, length: int, rails: int, **extra) -> dict:
    body = {"name": slug, "slug": slug, "supernet": supernet, "rail_prefix_length": length}
    body.update(rail_count=rails, **extra)
    created, _ = api.ok("POST", "/api/plans/", body)
    listed, _ = api.ok("GET", f"/api/rails/?plan={created['id']}&limit=100")
    return {"plan": created, "rails": sorted(listed["results"], key=lambda r: r["index"])}


class Timings(dict):
    """operation -> [(client seconds, index of the request)]."""

    def __init__(self, api: Api):
        super().__init__()
        self.api = api

    def repeat(self, name: str, times: int, operation) -> None:
        for i in range(times):
            elapsed = operation(i)
            self.setdefault(name, []).append((elapsed, len(self.api.sent) - 1))


def wide_rail_document(count: int) -> dict:
    exclusions = [{"cidr": f"10.{i // 256}.{i % 256}.0/28"} for i in range(count)]
    return {
        "apiVersion": "railstudio.io/v1",
        "kind": "RailStudioPlan",
        "plan": {"name": "wide", "slug": "wide", "pod_cidr": "172.16.0.0/16", "rail_count": 1},
        "rails": [{"index": 0, "subnet": "10.0.0.0/8", "exclusions": exclusions}],
        "nodes": [],
    }


def run(api: Api, reps: int, import_reps: int) -> Timings:
    times = Timings(api)
    times.repeat(
        "GET /healthz (no database: the floor)", reps, lambda _: api.ok("GET", "/healthz")[1]
    )
    times.repeat(
        "GET /api/ (the token lookup only: the API floor)",
        reps,
        lambda _: api.ok("GET", "/api/")[1],
    )

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

    times.repeat("GET available-ips?limit=50, empty /16", reps, get50)
    times.repeat("POST one address", reps, post(1))
    times.repeat("POST 1,000 addresses in one request", 4, post(1000))
    allocated = reps + 4000
    if allocated < 5000:
        api.ok("POST", ips, {"count": 5000 - allocated})
    times.repeat("GET available-ips?limit=50, 5,000 allocated", reps, get50)
    times.repeat("POST one address, 5,000 allocated", reps, post(1))
    full = f"/api/rails/{rail}/available-prefixes/"
    times.repeat(
        "available-prefixes /24 (GET), 5,000 allocated",
        reps,
        lambda _: api.ok("GET", f"{full}?prefix_length=24")[1],
    )
    times.repeat(
        "available-prefixes /24 (POST), 5,000 allocated",
        reps,
        lambda _: api.ok("POST", full, {"prefix_length": 24})[1],
    )

    # available-prefixes on an empty /16
    prefixes = plan(api, "px", "10.60.0.0/16", 16, 1)["rails"][0]["id"]
    path = f"/api/rails/{prefixes}/available-prefixes/"
    times.repeat(
        "one /24 via available-prefixes (GET)",
        reps,
        lambda _: api.ok("GET", f"{path}?prefix_length=24")[1],
    )
    times.repeat(
        "one /24 via available-prefixes (POST)",
        reps,
        lambda _: api.ok("POST", path, {"prefix_length": 24})[1],
    )

    # A /8 rail with 10,000 exclusions (one plan import), then exclusions added one by one.
    wide, _ = api.ok("POST", "/api/plans/import/", wide_rail_document(10_000))
    listed, _ = api.ok("GET", f"/api/rails/?plan={wide['id']}")
    wide_rail = listed["results"][0]["id"]

    def wide_get(_):
        body, elapsed = api.ok("GET", f"/api/rails/{wide_rail}/available-ips/?limit=50")
        assert body["addresses"][0] == "10.0.0.16", body["addresses"][:1]
        return elapsed

    times.repeat("/8 rail with 10,000 exclusions: GET ?limit=50", reps, wide_get)
    times.repeat("add one exclusion to a rail that has 10,000", reps,
        lambda i: api.ok("POST", "/api/exclusions/", {"rail": wide_rail, "cidr": f"10.200.{i}.0/24"})[1],
    )  # fmt: skip

    # 4,096 nodes x 8 rails = 32,768 NICs in one import, each time into a new plan.
    imported = []

    def import_all(i):
        target = plan(api, f"imp{i}", f"10.{64 + 8 * i}.0.0/13", 16, 8)["plan"]["id"]
        imported.append(target)
        body, elapsed = api.ok("POST", f"/api/plans/{target}/import-nodes/",
                               nodes_csv("gpu", 4096, 8), content_type="text/plain")  # fmt: skip
        assert body["nics_created"] == 32768, body
        return elapsed

    times.repeat("import-nodes, 32,768 NICs", import_reps, import_all)

    # The same inventory again into the last plan: unchanged (nothing to write), then with every
    # NIC's PF name changed (32,768 rows updated).
    def reimport(changed: bool):
        def again(i):
            text = nodes_csv("gpu", 4096, 8, pf_name=f"ens{i}f0" if changed else None)
            target = f"/api/plans/{imported[-1]}/import-nodes/"
            body, elapsed = api.ok("POST", target, text, content_type="text/plain")
            assert body["nics_updated"] == 32768, body
            return elapsed

        return again

    times.repeat("import-nodes again, 32,768 NICs unchanged", import_reps, reimport(False))
    times.repeat("import-nodes again, 32,768 NICs changed", import_reps, reimport(True))
    return times


def server_times(access_log: Path, sent: list[str]) -> list[float]:
    """Seconds per request from gunicorn's access log, in the order the requests were sent."""
    lines = [line.split() for line in access_log.read_text().splitlines() if line.strip()]
    logged = lines[-len(sent) :]
    if [f"{fields[0]} {fields[1]}" for fields in logged] != sent:
        pairs = zip([f"{f[0]} {f[1]}" for f in logged], sent, strict=False)
        first = next(((a, b) for a, b in pairs if a != b), None)
        print(f"(the access log does not match the requests sent: {first}; no server times)")
        return []
    return [int(fields[-1]) / 1e6 for fields in logged]


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(times: Timings, server: list[float]) -> None:
    print(f"{'operation':<50} {'median':>9} {'p90':>9} {'server':>9} {'NetBox':>9} {'ratio':>7}  n")
    for name, samples in times.items():
        client = sorted(elapsed for elapsed, _ in samples)
        served = sorted(server[index] for _, index in samples if index < len(server))
        median, p90 = statistics.median(client) * 1000, percentile(client, 0.9) * 1000
        on_server = f"{statistics.median(served) * 1000:>7.1f}ms" if served else f"{'':>9}"
        netbox = NETBOX_MS.get(name)
        theirs = f"{netbox:>7.1f}ms" if netbox else f"{'':>9}"
        ratio = f"{netbox / median:>7.2f}" if netbox else f"{'':>7}"
        print(
            f"{name:<50} {median:>7.1f}ms {p90:>7.1f}ms {on_server} {theirs} {ratio}  {len(client)}"
        )


def machine_pace() -> float:
    """Milliseconds a fixed piece of pure Python takes here (best of five): this machine's speed
    changes by up to 2x between runs, and every figure above moves with it."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(300_000))
        runs.append(time.perf_counter() - started)
    return min(runs) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per single call")
    parser.add_argument("--import-reps", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith("postgres") or not postgres_answers(url):
        print("api_latency: needs PostgreSQL (DATABASE_URL=postgres://...); nothing measured")
        return
    bench_url, token = prepare_database(url)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        access_log = Path(folder) / "access.log"
        server = start_server(bench_url, port, access_log)
        try:
            started, pace_before = time.monotonic(), machine_pace()
            api = Api(port, token)
            times = run(api, args.reps, args.import_reps)
            print(f"gunicorn 2x1, PostgreSQL, DEBUG off; data built and timed in "
                  f"{time.monotonic() - started:.0f} s; a fixed Python loop took "
                  f"{pace_before:.1f} ms before and {machine_pace():.1f} ms after (the "
                  "machine's pace)")  # fmt: skip
        finally:
            server.terminate()  # the workers write their last access-log lines as they stop
            server.wait(timeout=30)
            drop_database(url)
        report(times, server_times(access_log, api.sent))


if __name__ == "__main__":
    main()
