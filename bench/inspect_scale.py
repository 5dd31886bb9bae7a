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

            def timed_refresh() -> float:
                began = time.perf_counter()
                assert snapshots.refresh(cluster), cluster.inspect_error
                return time.perf_counter() - began

            first = timed_refresh()  # a lab that never listed its pods, an empty table
            runs = [timed_refresh() for _ in range(4)]  # as beat runs it, every N seconds
            refresh = statistics.median(runs)
            snapshots.forget_pods()
            unremembered = timed_refresh()  # as in a worker process that never saw the cluster
            with collector_paused():  # once more, phase by phase, as refresh() runs them
                began = time.perf_counter()
                with Kube(target_for(cluster)) as kube:
                    data = snapshots.collect(kube)
                    fetched = time.perf_counter()
                    reports = snapshots.reports_for(cluster, data)
                    del data  # as refresh() does: the lists go before the collector wakes
                    inspected = time.perf_counter()
                    snapshots.add_event_history(kube, reports)
                    histories = time.perf_counter()
                snapshots.store(cluster, reports)
                stored = time.perf_counter()
                del reports
            fetch, inspect_time = fetched - began, inspected - fetched
            history_time, store_time = histories - inspected, stored - histories
            summary = cluster.inspect_summary
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
                "full refresh (list, parse, compare, diagnose, store), as beat repeats it: "
                f"p50 of 4 {refresh:.2f} s  [< 3 s]"
            )
            print(f"  each: {', '.join(f'{run:.2f}' for run in runs)} s")
            print(
                f"  in a worker that has not read this cluster's pods before: {unremembered:.2f} s"
            )
            print(
                "  the first refresh (a lab that had not listed its pods yet; every row "
                f"written): {first:.2f} s"
            )
            print(
                f"  one more, phase by phase: fetch {fetch:.2f} s, inspect + diagnose "
                f"{inspect_time:.2f} s, event history of pods with problems {history_time:.2f} s, "
                f"store {store_time:.2f} s"
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
