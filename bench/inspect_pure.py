"""Pure inspection at scale: 4,096 pods x 8 rails (and their 36,864 events) through
clusters.inspect.inspect_pods, which diagnoses every pod. Prints the figure; the target is well
under 3 s in total.

The pods are the captured healthy seed pod (tests/clusters/data/healthy.json) widened to 8 rails,
one per node, each with its own addresses; every 64th pod gets a problem (a wrong subnet, a
duplicate address, a missing interface) so the slow paths run too.

    .venv/bin/python bench/inspect_pure.py
"""

import copy
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PODS = 4096
RAILS = 8
NS = "ai-training"
CAPTURE = ROOT / "tests" / "clusters" / "data" / "healthy.json"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"


def rail_entry(index: int, pod: int, template: dict) -> dict:
    entry = copy.deepcopy(template)
    entry["name"] = f"{NS}/sriov-rail-{index}"
    entry["interface"] = f"net{index + 1}"
    entry["ips"] = [f"10.{50 + index}.{1 + pod // 256}.{pod % 256}"]
    entry["mac"] = f"02:{pod >> 8:02x}:{pod & 0xFF:02x}:{index:02x}:00:10"
    pci = entry["device-info"]["pci"]
    pci["pf-pci-address"] = f"0000:{0x18 + 0x11 * index:02x}:00.0"
    pci["pci-address"] = f"0000:{0x18 + 0x11 * index:02x}:00.2"
    pci["rdma-device"] = f"mlx5_{8 + index * 8}"
    return entry


def synthetic(captured: dict) -> tuple[list[dict], list[dict], list[dict]]:
    base_pod = captured["pod"]
    status = json.loads(base_pod["metadata"]["annotations"][NETWORK_STATUS])
    default, template = status[0], status[1]
    networks = json.dumps(
        [{"name": f"sriov-rail-{i}", "interface": f"net{i + 1}"} for i in range(RAILS)]
    )
    container = base_pod["spec"]["containers"][0]
    limits = {"nvidia.com/gpu": "8", **{f"nvidia.com/rail{i}_vf": "1" for i in range(RAILS)}}
    pods, events, nodes = [], [], []
    for number in range(PODS):
        pod = copy.deepcopy(base_pod)
        name, node, uid = f"training-worker-{number}", f"gpu-node-{number}", f"uid-{number}"
        pod["metadata"].update(name=name, uid=uid)
        pod["spec"]["nodeName"] = node
        pod["spec"]["containers"] = [
            {**container, "resources": {"limits": limits, "requests": limits}}
        ]
        entries = [dict(default, ips=[f"10.100.{number // 250}.{number % 250 + 2}"])]
        entries += [rail_entry(index, number, template) for index in range(RAILS)]
        if number % 64 == 1:
            entries[3]["ips"] = [f"10.99.{number // 256}.{number % 256}"]  # wrong subnet
        if number % 64 == 2:
            entries[1]["ips"] = ["10.50.1.0"]  # the address of pod 0's net1
        if number % 64 == 3:
            del entries[8]  # net8 missing
        pod["metadata"]["annotations"] = {
            "k8s.v1.cni.cncf.io/networks": networks,
            NETWORK_STATUS: json.dumps(entries),
        }
        pods.append(pod)
        for event in captured["events"]:
            copied = copy.deepcopy(event)
            copied["involvedObject"].update(name=name, uid=uid)
            events.append(copied)
        nodes.append(
            {
                "name": node,
                "allocatable": {
                    "nvidia.com/gpu": "8",
                    **{f"nvidia.com/rail{i}_vf": "8" for i in range(RAILS)},
                },
            }
        )
    return pods, events, nodes


def main() -> None:
    from clusters.inspect import inspect_pods, summarize
    from planner.seed import seed_plan_spec

    captured = json.loads(CAPTURE.read_text())
    pods, events, nodes = synthetic(captured)
    plan = seed_plan_spec()
    nads = [
        {
            "namespace": NS,
            "name": f"sriov-rail-{i}",
            "annotations": {"k8s.v1.cni.cncf.io/resourceName": f"nvidia.com/rail{i}_vf"},
        }
        for i in range(RAILS)
    ]
    times, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        reports = inspect_pods(pods, events, plan, nodes=nodes, nads=nads)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    summary = summarize(reports)
    interfaces = sum(len(report.interfaces) for report in reports)
    print(f"pods: {len(reports)}, interfaces: {interfaces}, events: {len(events)}")
    print(f"summary: {json.dumps(summary)}")
    print(
        f"inspect + diagnose: best {min(times):.3f} s, median {statistics.median(times):.3f} s "
        f"wall (CPU median {statistics.median(cpu):.3f} s) [target: well under 3 s]"
    )


if __name__ == "__main__":
    main()
