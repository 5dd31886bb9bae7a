"""Scale benchmark for the lab cluster: 512 nodes x 8 rails with 4,096 pods.

Runs the lab as a subprocess (`python -m labsim serve`) and prints:
  - start time (process launch to serving, with 512 nodes and their system pods),
  - time to create 4,096 pods (8 rails each) and until all of them are Running,
  - time to list all pods (one GET /api/v1/pods to its last byte, cold and warm; the
    client's json.loads is printed separately),
  - watch fan-out: 10 watchers each receiving every event of 1,000 pod updates,
  - peak RSS of the lab process,
  - a second start with the 4,096 pods already in the spec: time to serving and to all Running.
Targets: start < 5 s, list < 1 s, peak RSS < 500 MB. Bounded: gives up after --budget seconds.

    .venv/bin/python bench/labsim_scale.py [--nodes 512] [--pods 4096] [--budget 600]
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labsim.testing import start_lab

NAMESPACE = "bench"
RAILS = 8


def bench_spec(nodes: int) -> dict:
    nads = []
    for rail in range(RAILS):
        config = {
            "cniVersion": "0.3.1",
            "type": "sriov",
            "name": f"sriov-rail-{rail}",
            "ipam": {
                "type": "whereabouts",
                "range": f"10.{50 + rail}.0.0/16",
                "exclude": [f"10.{50 + rail}.0.0/24"],
            },
        }
        nads.append(
            {
                "apiVersion": "k8s.cni.cncf.io/v1",
                "kind": "NetworkAttachmentDefinition",
                "metadata": {
                    "name": f"sriov-rail-{rail}",
                    "namespace": NAMESPACE,
                    "annotations": {"k8s.v1.cni.cncf.io/resourceName": f"nvidia.com/rail{rail}_vf"},
                },
                "spec": {"config": json.dumps(config)},
            }
        )
    return {
        "name": "scale",
        "pod_cidr": "10.128.0.0/14",
        "node_cidr_prefix": 24,
        "namespaces": [NAMESPACE],
        "nodes": {"count": nodes, "name_prefix": "gpu-node-"},
        "node_defaults": {"rails": RAILS},
        "objects": nads,
        "watch_history": 2000,
    }


def pod_manifest(index: int) -> dict:
    limits = {"nvidia.com/gpu": "1", "cpu": "4", "memory": "16Gi"}
    limits.update({f"nvidia.com/rail{rail}_vf": "1" for rail in range(RAILS)})
    networks = [
        {"name": f"sriov-rail-{rail}", "interface": f"net{rail + 1}"} for rail in range(RAILS)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"worker-{index:05d}",
            "labels": {"job": "bench"},
            "annotations": {"k8s.v1.cni.cncf.io/networks": json.dumps(networks)},
        },
        "spec": {
            "containers": [
                {
                    "name": "trainer",
                    "image": "nvcr.io/nvidia/pytorch:24.04-py3",
                    "resources": {"limits": limits},
                    "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
                }
            ]
        },
    }


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """VmHWM is the peak resident set size, VmRSS the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(args, lab) -> dict:
    context = ssl.create_default_context(cafile=str(lab.ca_path))
    headers = {"Authorization": f"Bearer {lab.token}"}
    connector = aiohttp.TCPConnector(ssl=context, limit=64)
    timeout = aiohttp.ClientTimeout(total=args.budget)
    pods_url = f"{lab.url}/api/v1/namespaces/{NAMESPACE}/pods"
    figures = {}
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as http:
        started = time.monotonic()
        queue = iter(range(args.pods))

        async def creator():
            for index in queue:
                async with http.post(pods_url, json=pod_manifest(index)) as response:
                    if response.status != 201:
                        raise RuntimeError(
                            f"create failed: {response.status} {await response.text()}"
                        )

        await asyncio.gather(*(creator() for _ in range(32)))
        figures["create_s"] = time.monotonic() - started
        while True:
            async with http.get(
                pods_url, params={"fieldSelector": "status.phase!=Running", "limit": "1"}
            ) as response:
                pending = (await response.json())["items"]
            if not pending:
                break
            await asyncio.sleep(0.2)
        figures["all_running_s"] = time.monotonic() - started
        figures["rss_running_mb"] = rss_mb(lab.process.pid, "VmRSS")

        for attempt in ("cold", "warm"):
            started = time.monotonic()
            async with http.get(f"{lab.url}/api/v1/pods") as response:
                raw = await response.read()
            figures[f"list_{attempt}_s"] = time.monotonic() - started
        started = time.monotonic()
        listing = json.loads(raw)
        figures["parse_s"] = time.monotonic() - started
        figures["list_items"] = len(listing["items"])
        figures["list_mb"] = len(raw) / 1e6
        figures["rss_listed_mb"] = rss_mb(lab.process.pid, "VmRSS")
        version = listing["metadata"]["resourceVersion"]

        updates = min(args.updates, args.pods)
        expected = updates
        received = [0] * args.watchers
        ready = asyncio.Event()
        connected = [0]
        done_at: list[float] = []

        async def watcher(slot: int):
            params = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "120"}
            async with http.get(pods_url, params=params) as response:
                connected[0] += 1
                if connected[0] == args.watchers:
                    ready.set()
                async for _line in response.content:
                    received[slot] += 1
                    if received[slot] >= expected:
                        done_at.append(time.monotonic())
                        return

        watchers = [asyncio.create_task(watcher(i)) for i in range(args.watchers)]
        await asyncio.wait_for(ready.wait(), 30)
        started = time.monotonic()
        patch_headers = {"Content-Type": "application/merge-patch+json"}
        targets = iter(range(updates))

        async def patcher():
            for index in targets:
                body = json.dumps({"metadata": {"labels": {"round": "1"}}})
                async with http.patch(
                    f"{pods_url}/worker-{index:05d}", data=body, headers=patch_headers
                ) as response:
                    if response.status != 200:
                        raise RuntimeError(f"patch failed: {response.status}")

        await asyncio.gather(*(patcher() for _ in range(16)))
        figures["updates_s"] = time.monotonic() - started
        await asyncio.wait_for(asyncio.gather(*watchers), 120)
        figures["fanout_s"] = max(done_at) - started
        figures["fanout_events"] = expected * args.watchers
    return figures


def preloaded_start(args, tmp: Path) -> dict:
    """Start a second lab whose spec already holds the pods; time serving and settling."""
    spec = bench_spec(args.nodes)
    for index in range(args.pods):
        pod = pod_manifest(index)
        pod["metadata"]["namespace"] = NAMESPACE
        spec["objects"].append(pod)
    spec_path = tmp / "preloaded.json"
    spec_path.write_text(json.dumps(spec))
    started = time.monotonic()
    lab = start_lab(spec_path, tmp / "preloaded", subprocess=True)
    figures = {"serving_s": time.monotonic() - started}
    try:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods?fieldSelector=status.phase!%3DRunning&limit=1"
        deadline = time.monotonic() + args.budget
        while time.monotonic() < deadline:
            status, body = lab.request("GET", path, timeout=60)
            if status == 200 and not body["items"]:
                break
            time.sleep(0.2)
        figures["settled_s"] = time.monotonic() - started
        figures["peak_rss_mb"] = rss_mb(lab.process.pid)
    finally:
        lab.stop()
    return figures


def report(args, start_s: float, baseline: float, figures: dict) -> None:
    f = figures
    lines = [
        f"labsim scale: {args.nodes} nodes x {RAILS} rails, {args.pods} pods "
        f"({os.cpu_count()} CPUs)",
        f"  start (launch to serving, {args.nodes} nodes + system pods): {start_s:.2f} s"
        f"   target < 5 s   (RSS then {baseline:.0f} MB)",
        f"  create {args.pods} pods, 32 concurrent clients: {f['create_s']:.2f} s; all Running "
        f"after {f['all_running_s']:.2f} s   (RSS then {f['rss_running_mb']:.0f} MB)",
        f"  list all pods ({f['list_items']} items, {f['list_mb']:.1f} MB), time to last byte: "
        f"{f['list_cold_s']:.2f} s cold, {f['list_warm_s']:.2f} s warm   target < 1 s"
        f"   (client json.loads {f['parse_s']:.2f} s)",
        f"  watch fan-out: {args.watchers} watchers x {args.updates} pod updates = "
        f"{f['fanout_events']} events delivered in {f['fanout_s']:.2f} s"
        f"   (updates sent in {f['updates_s']:.2f} s)",
        f"  peak RSS of the lab process: {f['peak_rss_mb']:.0f} MB   target < 500 MB",
    ]
    if "preloaded" in f:
        p = f["preloaded"]
        lines.append(
            f"  start with the {args.pods} pods in the spec: serving after {p['serving_s']:.2f} s,"
            f" all Running after {p['settled_s']:.2f} s   (peak RSS {p['peak_rss_mb']:.0f} MB)"
        )
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=512)
    parser.add_argument("--pods", type=int, default=4096)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=600, help="give up after this long")
    parser.add_argument(
        "--skip-preloaded", action="store_true", help="skip the start with pods in the spec"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labsim-bench-") as tmp:
        spec_path = Path(tmp) / "scale.json"
        spec_path.write_text(json.dumps(bench_spec(args.nodes)))
        started = time.monotonic()
        lab = start_lab(spec_path, Path(tmp), subprocess=True)
        start_s = time.monotonic() - started
        try:
            baseline = rss_mb(lab.process.pid)
            figures = asyncio.run(asyncio.wait_for(run(args, lab), args.budget))
            figures["peak_rss_mb"] = rss_mb(lab.process.pid)
        finally:
            lab.stop()
        if not args.skip_preloaded:
            figures["preloaded"] = preloaded_start(args, Path(tmp))
    report(args, start_s, baseline, figures)
    ok = start_s < 5 and figures["list_cold_s"] < 1 and figures["peak_rss_mb"] < 500
    print("  all targets met" if ok else "  TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
