"""The pathological requests of issue 11, fired at a real server (gunicorn, 2 workers, its
30 s timeout) on the database in DATABASE_URL (else SQLite): each one's status and time, then
bursts of identical or mixed writes and what they answered. Before issue 11 these killed
workers, answered 500 or took seconds; the target is a 4xx for each within a second or two,
and no 500 in any burst.

Run: .venv/bin/python bench/hostile_requests.py
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _django import scratch_database

ROOT = Path(__file__).resolve().parent.parent
BIG_MB = 50
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(connection) -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    user = settings.get("USER") or "postgres"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def estate() -> dict:
    """The seed plan, a token per role, an in-cluster cluster record and node NICs to address."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from clusters.models import Cluster
    from planner import documents
    from planner.models import Node, NodeNIC, Plan, Rail
    from planner.seed import seed_plan_spec
    from railstudio.roles import ensure_roles

    ensure_roles()
    tokens = {}
    for role in ("viewer", "planner", "operator"):
        user = get_user_model().objects.create_user(username=f"bench-{role}", password="x" * 12)
        user.groups.add(Group.objects.get(name=role))
        tokens[role] = Token.objects.create(user=user).key
    plan = documents.import_plan(documents.document_from_spec(seed_plan_spec()))
    cluster = Cluster.objects.create(name="bench", in_cluster=True, server="in-cluster")
    race = Plan.objects.create(name="Race", slug="race")
    rails = [
        Rail.objects.create(plan=race, index=i, subnet=f"10.{70 + i}.0.0/24") for i in range(4)
    ]
    for n in range(30):
        node = Node.objects.create(plan=race, name=f"node-{n:02d}")
        NodeNIC.objects.bulk_create(NodeNIC(node=node, rail=rail) for rail in rails)
    return {
        "tokens": tokens,
        "rail": plan.rails.get(index=0).pk,
        "cluster": cluster.pk,
        "race": race,
        "race_rails": [rail.pk for rail in rails],
    }


def start_server(connection, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(connection), "DEBUG": ""}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "railstudio.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
            "--log-level",
            "warning",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not start; see {log}")


def send(port: int, token: str | None, method: str, path: str, body=None, content_type=None):
    """(status, seconds, first bytes of the answer); status 0 when the server gave none."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    if body is not None:
        if not isinstance(body, bytes | str):
            body, content_type = json.dumps(body), "application/json"
        headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(300)
        return response.status, time.perf_counter() - started, answer
    except (OSError, http.client.HTTPException) as error:
        return 0, time.perf_counter() - started, str(error).encode()
    finally:
        connection.close()


def singles(data: dict) -> list[tuple]:
    rail, cluster = data["rail"], data["cluster"]
    big_csv = "node,rail\n" + "gpu-node-x,0\n" * (BIG_MB * 2**20 // 13)
    big_yaml = "plan: {name: Big, slug: big}\nnodes:\n" + "- {name: n}\n" * (BIG_MB * 2**20 // 12)
    return [
        ("rails 0-100000000", "viewer", "GET", "/api/plans/training/manifests/?pod=rails:0-100000000", None, None),
        ("rails 0-5000000", "viewer", "GET", "/api/plans/training/manifests/?pod=rails:0-5000000", None, None),
        ("stored rails 0-3000000", "planner", "PATCH", "/api/plans/training/", {"pod_options": {"rails": "0-3000000"}}, None),
        ("50 MB CSV", "planner", "POST", "/api/plans/training/import-nodes/", big_csv, "text/csv"),
        ("50 MB YAML", "planner", "POST", "/api/plans/import/", big_yaml, "application/yaml"),
        ("[ x 100000 as YAML", "planner", "POST", "/api/plans/import/", "[" * 100_000, "application/yaml"),
        ("[ x 100000 as JSON", "planner", "POST", "/api/plans/import/", "[" * 100_000, "application/json"),
        ("billion laughs", "planner", "POST", "/api/plans/import/", LAUGHS, "application/yaml"),
        ("billion laughs", "planner", "POST", "/api/preflight/", LAUGHS, "application/yaml"),
        ("routes [1, x, null]", "planner", "PATCH", f"/api/rails/{rail}/", {"routes": [1, "x", None]}, None),
        ("IPv6 range_start", "planner", "PATCH", f"/api/rails/{rail}/", {"range_start": "::a32:100"}, None),
        ("IPv6 exclusion", "planner", "POST", "/api/exclusions/", {"rail": rail, "cidr": "::a32:c800/120"}, None),
        ("/33 on IPv4", "planner", "GET", f"/api/rails/{rail}/available-prefixes/?prefix_length=33", None, None),
        ("/128 on IPv4", "planner", "POST", f"/api/rails/{rail}/available-prefixes/", {"prefix_length": 128}, None),
        ("host_ip=abc", "viewer", "GET", "/api/nics/?host_ip=abc", None, None),
        ("limit of 30 digits", "viewer", "GET", "/api/rollouts/?limit=" + "9" * 30, None, None),
        ("offset of 30 digits", "viewer", "GET", "/api/plans/?offset=" + "9" * 30, None, None),
        ("plans [a NUL]", "operator", "POST", "/api/clusters/", {"name": "x", "plans": ["a\u0000"]}, None),
        (
            "pod name of 254", "operator", "POST",
            f"/api/clusters/{cluster}/pods/ai-training/{'p' * 254}/exec/", {"command": "ip -br addr"}, None,
        ),
        (
            "pod %2e%2e", "operator", "POST", f"/api/clusters/{cluster}/pods/ai-training/%2e%2e/exec/",
            {"command": "ip -br addr"}, None,
        ),
        (
            "carved onto the pod CIDR", "planner", "POST", "/api/plans/",
            {"name": "Carved", "supernet": "10.100.0.0/13", "pod_cidr": "10.100.0.0/16"}, None,
        ),
        (
            "0.0.0.0/0 into /1s", "planner", "POST", "/api/plans/",
            {"name": "Everything", "supernet": "0.0.0.0/0", "rail_prefix_length": 1,
             "rail_count": 2}, None,
        ),
        ("schema, no login", None, "GET", "/api/schema/", None, None),
    ]  # fmt: skip


def bursts(data: dict) -> list[tuple[str, list]]:
    race, rails = data["race"], data["race_rails"]
    same_exclusion = {"rail": rails[0], "cidr": "10.70.0.128/25", "purpose": "reserved"}
    mixed = []
    for i in range(10):
        mixed.append(("POST", f"/api/rails/{rails[i % 4]}/available-ips/", {"count": 2}))
        mixed.append(("POST", f"/api/plans/{race.slug}/allocate-host-ips/", {}))
    return [
        ("20 x POST /api/exclusions/ (the same CIDR)", [("POST", "/api/exclusions/", same_exclusion)] * 20),
        (
            "20 x POST /api/rails/ (the same subnet)",
            [("POST", "/api/rails/", {"plan": race.pk, "index": 10 + i, "subnet": "10.99.0.0/16"})
             for i in range(20)],
        ),
        ("10 x available-ips + 10 x allocate-host-ips", mixed),
    ]  # fmt: skip


def main() -> None:
    with scratch_database() as connection:
        data = estate()
        port = free_port()
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "railstudio-hostile-gunicorn.log"
        server = start_server(connection, port, log)
        worst = 0.0
        try:
            viewer = data["tokens"]["viewer"]
            # Each worker imports its views, the error handler and the JSON parse-error path
            # once (1-2 s the first time); the figures below are per request, not per process.
            warm = [
                "/api/plans/",
                "/api/plans/training/manifests/?format=json",
                "/api/plans/?limit=0",
            ]
            with ThreadPoolExecutor(max_workers=9) as pool:
                list(pool.map(lambda path: send(port, viewer, "GET", path), warm * 3))
                bad_json = ("POST", "/api/preflight/", "{", "application/json")
                list(pool.map(lambda _: send(port, viewer, *bad_json), range(6)))
            print(f"{'status':>6} {'seconds':>8}  {'what':<26} request")
            for what, role, method, path, body, content_type in singles(data):
                token = data["tokens"][role] if role else None
                status, seconds, _ = send(port, token, method, path, body, content_type)
                worst = max(worst, seconds)
                size = (
                    f" [{len(body) / 2**20:.0f} MB body]"
                    if isinstance(body, str) and len(body) > 2**20
                    else ""
                )
                shown = path if len(path) <= 60 else path[:57] + "..."
                print(f"{status:>6} {seconds:>8.3f}  {what:<26} {method} {shown}{size}")
            print()
            planner = data["tokens"]["planner"]
            for label, requests in bursts(data):
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=len(requests)) as pool:
                    results = list(
                        pool.map(lambda request: send(port, planner, *request), requests)
                    )
                seconds = time.perf_counter() - started
                counts = Counter(status for status, _, _ in results)
                print(f"burst {label}: {dict(sorted(counts.items()))} in {seconds:.2f} s")
            from planner.models import Exclusion, NodeNIC, Rail

            race = data["race"]
            hosts = list(
                NodeNIC.objects.filter(rail__plan=race, host_ip__isnull=False).values_list(
                    "rail_id", "host_ip"
                )
            )
            print(
                f"stored: {Exclusion.objects.filter(rail__plan=race).count()} exclusion, "
                f"{Rail.objects.filter(plan=race, subnet='10.99.0.0/16').count()} rail of "
                f"10.99.0.0/16, {len(hosts)} host IPs ({len(set(hosts))} distinct per rail)"
            )
            print(f"slowest single request: {worst:.2f} s ({connection.vendor})")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
