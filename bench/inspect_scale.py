"""Pod inspection at scale: a lab of 512 nodes x 8 rails with 4,096 pods (each with 8 rails).

Prints: a full refresh, `clusters.snapshots.refresh` (list pods, warning events, nodes, NADs
and IPPools; parse; compare with the plan; diagnose; store one row per pod), then the same
phase by phase, the cluster's pod list page from the snapshot, and the
pod list API (p50 of 20). Targets: refresh < 3 s, page < 500 ms, API p50 < 100 ms.
Uses DATABASE_URL when set, else SQLite."""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _django import peak_rss_mb, scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labsim_scale

NODES, PODS = 512, 4096


def start_loaded_lab(folder: Path):
    import json

    from labsim.testing import start_lab

    spec = labsim_scale.bench_spec(NODES)
    for index in range(PODS):
        pod = labsim_scale.pod_manifest(index)
        pod["metadata"]["namespace"] = labsim_scale.NAMESPACE
        pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"].append("SYS_NICE")
        spec["objects"].append(pod)
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    lab = start_lab(path, folder / "lab", subprocess=True)
    query = f"/api/v1/namespaces/{labsim_scale.NAMESPACE}/pods?fieldSelector=status.phase!%3DRunning&limit=1"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, body = lab.request("GET", query, timeout=60)
        if status == 200 and not body["items"]:
            return lab
        time.sleep(0.5)
    lab.stop()
    raise SystemExit("the lab's pods did not all start within 300 s")


def main():
    folder = Path(tempfile.mkdtemp(prefix="inspect-"))
    (folder / "lab").mkdir()
    lab = start_loaded_lab(folder)
    try:
        with scratch_database() as connection:
            from django.contrib.auth.models import User
            from django.test import Client

            from clusters import snapshots
            from clusters.models import Cluster
            from planner import documents
            from planner.seed import seed_plan_spec

            document = documents.document_from_spec(seed_plan_spec())
            document["plan"]["namespace"] = labsim_scale.NAMESPACE
            plan = documents.import_plan(document)
            cluster = Cluster(name="scale", server=lab.url)
            cluster.set_kubeconfig(lab.kubeconfig_path.read_text())
            cluster.save()
            cluster.plans.add(plan)

            from clusters.kube import Kube
            from clusters.rollout import target_for
            from railstudio.gcpause import collector_paused

            if "--profile-fetch" in sys.argv:
                original = Kube._rest

                def timed_rest(self, method, path, **kwargs):
                    began = time.perf_counter()
                    result = original(self, method, path, **kwargs)
                    items = len(result.get("items") or []) if isinstance(result, dict) else 0
                    print(f"  {method} {path}: {items} items, {time.perf_counter() - began:.2f} s")
                    return result

                Kube._rest = timed_rest
            runs = []
            for _ in range(5):  # the first against a cold lab, then as periodic refreshes are
                began = time.perf_counter()
                assert snapshots.refresh(cluster), cluster.inspect_error
                runs.append(time.perf_counter() - began)
            refresh, first = statistics.median(runs[1:]), runs[0]
            with collector_paused():  # once more, phase by phase, as refresh() runs them
                began = time.perf_counter()
                with Kube(target_for(cluster)) as kube:
                    data = snapshots.collect(kube)
                    fetched = time.perf_counter()
                    reports = snapshots.reports_for(cluster, data)
                    inspected = time.perf_counter()
                    snapshots.add_event_history(kube, reports)
                    histories = time.perf_counter()
                snapshots.store(cluster, reports)
                stored = time.perf_counter()
            fetch, inspect_time = fetched - began, inspected - fetched
            history_time, store_time = histories - inspected, stored - histories
            summary = cluster.inspect_summary
            if "--profile-store" in sys.argv:
                import cProfile
                import json
                import pstats

                sizes = sum(len(json.dumps(r.to_dict())) for r in reports)
                print(f"report JSON: {sizes / 1e6:.1f} MB")
                cProfile.runctx(
                    "snapshots.store(cluster, reports)", globals(), locals(), "/tmp/store.prof"
                )
                pstats.Stats("/tmp/store.prof").sort_stats("tottime").print_stats(12)

            client = Client()
            client.force_login(User.objects.create_superuser("bench", password="x"))
            page_times, api_times = [], []
            for _ in range(5):
                start = time.perf_counter()
                response = client.get(f"/clusters/{cluster.pk}/pods/")
                page_times.append(time.perf_counter() - start)
                assert response.status_code == 200
            for _ in range(20):
                start = time.perf_counter()
                response = client.get(f"/api/clusters/{cluster.pk}/pods/")
                api_times.append(time.perf_counter() - start)
                assert response.status_code == 200 and response.json()["count"] == PODS

            print(f"database: {connection.vendor}; lab: {NODES} nodes x 8 rails, {PODS} pods")
            print(
                f"full refresh (list, parse, compare, diagnose, store): p50 of 4 {refresh:.2f} s  [< 3 s]"
            )
            print(f"  each: {', '.join(f'{run:.2f}' for run in runs[1:])} s")
            print(
                f"  one more, phase by phase: fetch {fetch:.2f} s, inspect + diagnose "
                f"{inspect_time:.2f} s, event history of pods with problems {history_time:.2f} s, "
                f"store {store_time:.2f} s"
            )
            print(
                f"  the first refresh (a lab that had not listed its pods yet; every row written): {first:.2f} s"
            )
            print(
                f"  pods {summary['pods']}, ok {summary['ok']}, with problems {summary['with_problems']}"
            )
            print(
                f"pod list page from the snapshot: p50 {statistics.median(page_times) * 1000:.0f} ms  [< 500 ms]"
            )
            print(f"pod list API: p50 {statistics.median(api_times) * 1000:.1f} ms  [< 100 ms]")
            print(f"peak memory of this process: {peak_rss_mb():.0f} MB")
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
