"""8 NADs (+ the PodTemplate) to 16 lab clusters: fan-out through 4 Celery worker processes
against a sequential loop of the same client calls in one process (the same rollout code, with
each call waiting for the one before: `parallel=1`). For the record it also times a loop of the
rollouts one after another as the workers run each (independent calls at once), which shows what
the fan-out itself adds.

Each lab adds 25 ms to every API call, as a cluster across a network would; without that the
loop measures only local CPU. Uses REDIS_URL and DATABASE_URL when set (use both for a fair
figure: SQLite serialises the workers' writes), else a filesystem broker and SQLite.
Target: fan-out at least 4x faster than the loop, and under 5 s."""

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _django import scratch_database

CLUSTERS = 16
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "25"))
ROOT = Path(__file__).resolve().parent.parent


def start_labs(folder: Path):
    from labsim.testing import SEED_SPEC, start_lab

    def one(index):
        lab = start_lab(SEED_SPEC, folder / f"lab{index}", subprocess=True)
        lab.set_fault(latency_ms=LATENCY_MS)
        return lab

    for index in range(CLUSTERS):
        (folder / f"lab{index}").mkdir()
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(CLUSTERS)))


def database_url(connection) -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{settings.get('USER') or 'postgres'}{password}@{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"


def start_workers(connection, folder: Path, broker_env: dict) -> subprocess.Popen:
    log = folder / "workers.log"
    env = {
        **os.environ,
        **broker_env,
        "DATABASE_URL": database_url(connection),
        "CELERY_QUEUE": "bench-fanout",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "railstudio",
            "worker",
            "--concurrency=4",
            "--loglevel=info",
            "-Q",
            "bench-fanout",
            "--without-gossip",
            "--without-mingle",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready" in log.read_text():
            return worker
        time.sleep(0.2)
    worker.kill()
    raise SystemExit(f"workers did not start; see {log}")


def cpu_seconds(marker: str) -> float:
    """CPU time (user + system) used so far by the processes whose command line holds `marker`
    (Linux /proc), to show where the fan-out's time goes on this machine."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if marker not in (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                continue
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def make_plan(slug: str):
    from planner import documents
    from planner.seed import seed_plan_spec

    document = documents.document_from_spec(seed_plan_spec())
    document["plan"].update(name=f"Bench {slug}", slug=slug, namespace=f"ns-{slug}")
    return documents.import_plan(document)


def register(labs):
    from clusters.models import Cluster

    clusters = []
    for index, lab in enumerate(labs):
        cluster = Cluster(name=f"lab{index}", server=lab.url, is_lab=True)
        cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
        cluster.save()
        clusters.append(cluster)
    return clusters


def main():
    folder = Path(tempfile.mkdtemp(prefix="fanout-"))
    broker_env = {}
    if not os.environ.get("REDIS_URL"):
        (folder / "broker").mkdir()
        broker_env["RAILSTUDIO_VAR_DIR"] = str(folder)  # the filesystem broker lives under var/
    os.environ.update(broker_env)
    with scratch_database() as connection:
        from django.conf import settings

        from clusters import rollout
        from clusters.models import Rollout
        from railstudio.celery import app

        app.conf.task_default_queue = "bench-fanout"
        labs = start_labs(folder)
        workers = None
        try:
            clusters = register(labs)
            loop_plan, fan_plan = make_plan("loop"), make_plan("fan")

            def loop(plan, parallel):
                start = time.perf_counter()
                for cluster in clusters:
                    record = rollout.request_rollout(cluster, plan, None)
                    state = rollout.execute(record.pk, parallel=parallel)
                    assert state == "succeeded", Rollout.objects.get(pk=record.pk).message
                return time.perf_counter() - start

            sequential = loop(loop_plan, parallel=1)
            serial_rollouts = loop(make_plan("serial"), parallel=None)

            workers = start_workers(connection, folder, broker_env)
            from clusters import services

            cpu_before = {marker: cpu_seconds(marker) for marker in ("labsim", "celery")}
            start = time.perf_counter()
            started, refused = services.start_rollouts(clusters, fan_plan, None)
            assert not refused
            ids = [record.pk for record in started]
            while Rollout.objects.filter(pk__in=ids, state__in=["pending", "running"]).exists():
                time.sleep(0.05)
                if time.perf_counter() - start > 120:
                    raise SystemExit("fan-out did not finish within 120 s")
            fan_out = time.perf_counter() - start
            cpu = {marker: cpu_seconds(marker) - used for marker, used in cpu_before.items()}
            states = set(Rollout.objects.filter(pk__in=ids).values_list("state", flat=True))
            assert states == {"succeeded"}, states

            print(
                f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split('://')[0]}"
            )
            print(
                f"{CLUSTERS} lab clusters x (8 NADs + 1 PodTemplate), {LATENCY_MS} ms per API call"
            )
            print(f"sequential loop of the client calls, one process: {sequential:.2f} s")
            print(f"rollouts one after another, one process:          {serial_rollouts:.2f} s")
            print(f"fan-out, 4 worker processes:                       {fan_out:.2f} s  [< 5 s]")
            print(
                f"  CPU during the fan-out ({os.cpu_count()} cores): labs {cpu['labsim']:.2f} s, "
                f"workers {cpu['celery']:.2f} s"
            )
            print(f"ratio to the sequential loop: {sequential / fan_out:.1f}x  [>= 4x]")
            print(f"ratio to rollouts one after another: {serial_rollouts / fan_out:.1f}x")
        finally:
            if workers:
                workers.terminate()
                workers.wait(timeout=20)
            for lab in labs:
                lab.stop()


if __name__ == "__main__":
    main()
