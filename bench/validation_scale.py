"""Rail validation at scale: a 512-node x 8-rail lab (a subprocess), quick mode, end to end
through the worker's code (deploy the probe DaemonSet, wait for 512 Ready probes, read 512
agents, ping every pair on every rail, RDMA between ring neighbours on every rail, store the
matrices and findings, remove the probe). Prints the total and per-phase times, the exec calls
and the bytes moved, the worker's peak memory, then the time to render the run's heatmap page
(and one rail's PNG, and a hovered cell) for 512 nodes.

Targets: the run under 60 s; the page under 500 ms.

    .venv/bin/python bench/validation_scale.py [--nodes 512] [--mode quick]
"""

import argparse
import os
import statistics
import time
from pathlib import Path

from _django import peak_rss_mb, scratch_database


def lab_spec(nodes: int) -> dict:
    return {
        "name": "validation-scale",
        "pod_cidr": "10.128.0.0/14",
        "node_cidr_prefix": 24,
        "namespaces": ["ai-training"],
        "nodes": {"count": nodes, "name_prefix": "gpu-node-"},
        "node_defaults": {"rails": 8},
        "watch_history": 2000,
    }


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=512)
    parser.add_argument("--mode", default="quick")
    args = parser.parse_args()
    with scratch_database():
        from dataclasses import replace

        from django.contrib.auth.models import User
        from django.test import Client

        from clusters.kube import Kube, Target
        from clusters.models import Cluster, Validation
        from clusters.validation import runner
        from labsim.testing import start_lab
        from planner import documents, manifests
        from planner.seed import seed_plan_spec
        from railstudio.roles import VIEWER, ensure_roles

        spec = replace(seed_plan_spec(), nodes=())  # no inventory: every node offering the VFs
        plan = documents.import_plan(documents.document_from_spec(spec))
        started = time.perf_counter()
        lab = start_lab(lab_spec(args.nodes), subprocess=True)
        print(f"lab of {args.nodes} nodes x 8 rails up in {time.perf_counter() - started:.1f} s")
        try:
            kubeconfig = lab.kubeconfig_path.read_text()
            kube = Kube(Target(kubeconfig=kubeconfig))
            for obj in manifests.render_nads(plan.to_spec()):
                kube.apply(obj)
            cluster = Cluster(name="scale", server=lab.url, is_lab=True)
            cluster.set_kubeconfig(kubeconfig)
            cluster.save()
            cluster.plans.add(plan)
            run = runner.request_validation(cluster, plan, None, mode=args.mode)
            lab_cpu = process_cpu(lab.process.pid)
            own_cpu = time.process_time()
            started = time.perf_counter()
            runner.execute(run.pk)
            elapsed = time.perf_counter() - started
            lab_cpu = process_cpu(lab.process.pid) - lab_cpu
            own_cpu = time.process_time() - own_cpu
            run = Validation.objects.get(pk=run.pk)
            summary = run.summary
            print(
                f"validation ({args.mode}): {run.state} in {elapsed:.1f} s (target < 60 s): {run.message}"
            )
            print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in summary["seconds"].items()))
            print(
                f"  {summary['nodes']} nodes, {summary['pairs']} ping pairs, "
                f"{summary['rdma_tests']} RDMA tests, {summary['execs']} exec calls, "
                f"{summary['bytes_sent'] / 1e6:.1f} MB sent (commands), "
                f"{summary['bytes_received'] / 1e6:.1f} MB received (output)"
            )
            print(
                f"  CPU: worker {own_cpu:.1f} s, lab {lab_cpu:.1f} s; "
                f"worker peak RSS {peak_rss_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}"
            )

            ensure_roles()
            from django.contrib.auth.models import Group

            viewer = User.objects.create_user("bench-viewer")
            viewer.groups.add(Group.objects.get(name=VIEWER))
            client = Client()
            client.force_login(viewer)
            url = f"/validations/{run.pk}/"
            timings = {"page": [], "png": [], "cell": []}
            for _ in range(5):
                for name, target in (
                    ("page", url),
                    ("png", f"{url}rails/3/heatmap.png"),
                    ("cell", f"{url}rails/3/cell/?row=7&col={min(300, summary['nodes'] - 1)}"),
                ):
                    began = time.perf_counter()
                    response = client.get(target)
                    timings[name].append(time.perf_counter() - began)
                    assert response.status_code == 200, (target, response.status_code)
            print(
                f"heatmap page for {summary['nodes']} nodes: "
                f"{statistics.median(timings['page']) * 1000:.0f} ms (target < 500 ms); "
                f"one rail's PNG {statistics.median(timings['png']) * 1000:.0f} ms; "
                f"a hovered cell {statistics.median(timings['cell']) * 1000:.0f} ms"
            )
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
