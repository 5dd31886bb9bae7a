"""Regenerate the lab captures in this folder: pods, events, nodes, NADs and IPPools as the
Kubernetes API returns them, one JSON file per scenario.

    .venv/bin/python tests/clusters/data/capture.py [output folder]

Starts the seed lab (4 nodes x 8 GPUs x 8 rails), creates NADs for rails 0-3 (sriov-rail-0..3
in ai-training, resourceName nvidia.com/railN_vf, whereabouts 10.5N.0.0/16 excluding
10.5N.0.0/24), then one pod per scenario, switching lab faults on around the pods that need
them. Each file holds what a collector would read at that moment:

    {"scenario", "note", "faults", "pod", "events", "nodes", "nads", "ippools", "devices"}

`nads` is in the facts shape ({namespace, name, annotations, config}); `ippools` is summarised
as {name, range, allocations: <count>} (an exhausted /16 holds 65,534 entries); `devices` is
the lab's record of the GPUs and VFs the pod got (what `nvidia-smi topo -m` and
/sys/class/net/<if>/device/numa_node show inside the pod).

The lab runs with sandbox_delay_ms 400 so that a pod can be caught between scheduling and
admission (UnexpectedAdmissionError: the device plugin went away, as after a node reboot).
Topology Manager is not simulated by the lab, so `topology_affinity.json` is derived from the
captured NUMA-mismatch pod with the kubelet's TopologyAffinityError status and event
(marked "crafted": true).
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NS = "ai-training"
NAD_GROUP, NAD_VERSION, NAD_PLURAL = "k8s.cni.cncf.io", "v1", "network-attachment-definitions"
IPPOOL_GROUP, IPPOOL_VERSION, IPPOOL_PLURAL = "whereabouts.cni.cncf.io", "v1alpha1", "ippools"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
IMAGE = "nvcr.io/nvidia/pytorch:24.04-py3"
HOSTNAME = "kubernetes.io/hostname"
RAILS = range(4)


def nad(index: int) -> dict:
    config = {
        "cniVersion": "0.3.1",
        "type": "sriov",
        "name": f"sriov-rail-{index}",
        "ipam": {
            "type": "whereabouts",
            "range": f"10.{50 + index}.0.0/16",
            "exclude": [f"10.{50 + index}.0.0/24"],
        },
    }
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "name": f"sriov-rail-{index}",
            "namespace": NS,
            "annotations": {"k8s.v1.cni.cncf.io/resourceName": f"nvidia.com/rail{index}_vf"},
        },
        "spec": {"config": json.dumps(config)},
    }


def pod(
    name: str,
    networks,
    *,
    gpus: int = 8,
    vfs: dict[str, int] | None = None,
    capabilities=("IPC_LOCK", "SYS_NICE"),
    node: str | None = None,
) -> dict:
    """A training pod as in the walkthrough; `networks` is the annotation value or a list."""
    if vfs is None:
        vfs = {f"nvidia.com/rail{index}_vf": 1 for index in RAILS}
    limits = {"nvidia.com/gpu": gpus, **vfs} if gpus else dict(vfs)
    container = {
        "name": "trainer",
        "image": IMAGE,
        "command": ["sleep", "infinity"],
        "resources": {"limits": {key: str(value) for key, value in limits.items()}},
    }
    if capabilities:
        container["securityContext"] = {"capabilities": {"add": list(capabilities)}}
    annotation = networks if isinstance(networks, str) else json.dumps(networks, indent=2)
    spec = {"containers": [container]}
    if node:
        spec["nodeSelector"] = {HOSTNAME: node}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "annotations": {NETWORKS: annotation}},
        "spec": spec,
    }


def rails_json(indexes=RAILS, typo: dict[int, str] | None = None) -> list[dict]:
    typo = typo or {}
    return [
        {"name": typo.get(index, f"sriov-rail-{index}"), "interface": f"net{index + 1}"}
        for index in indexes
    ]


class Capture:
    def __init__(self, lab, folder: Path):
        from kubernetes import client as k8s

        self.lab = lab
        self.folder = folder
        self.api = lab.api_client()
        self.core = k8s.CoreV1Api(self.api)
        self.custom = k8s.CustomObjectsApi(self.api)

    # Reading ---------------------------------------------------------------------------

    def read_pod(self, name: str) -> dict:
        return self.api.sanitize_for_serialization(self.core.read_namespaced_pod(name, NS))

    def events_of(self, pod_obj: dict) -> list[dict]:
        uid = pod_obj["metadata"]["uid"]
        events = self.core.list_namespaced_event(NS).items
        return [
            self.api.sanitize_for_serialization(event)
            for event in events
            if event.involved_object.uid == uid
        ]

    def nodes(self) -> list[dict]:
        return [self.api.sanitize_for_serialization(n) for n in self.core.list_node().items]

    def nads(self) -> list[dict]:
        items = self.custom.list_namespaced_custom_object(NAD_GROUP, NAD_VERSION, NS, NAD_PLURAL)
        return [
            {
                "namespace": item["metadata"]["namespace"],
                "name": item["metadata"]["name"],
                "annotations": item["metadata"].get("annotations") or {},
                "config": item["spec"]["config"],
            }
            for item in items["items"]
        ]

    def ippools(self) -> list[dict]:
        items = self.custom.list_cluster_custom_object(IPPOOL_GROUP, IPPOOL_VERSION, IPPOOL_PLURAL)
        return [
            {
                "name": item["metadata"]["name"],
                "namespace": item["metadata"]["namespace"],
                "range": item["spec"]["range"],
                "allocations": len(item["spec"].get("allocations") or {}),
            }
            for item in items["items"]
        ]

    # Waiting ---------------------------------------------------------------------------

    def wait(self, name: str, test, what: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            current = self.read_pod(name)
            if test(current, self.events_of(current)):
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"pod {name}: {what} not seen after {timeout}s")
            time.sleep(0.05)

    def wait_event(self, name: str, reason: str, timeout: float = 15) -> dict:
        return self.wait(
            name, lambda _, events: any(e["reason"] == reason for e in events), reason, timeout
        )

    def wait_phase(self, name: str, phase: str, timeout: float = 15) -> dict:
        return self.wait(
            name, lambda p, _: (p.get("status") or {}).get("phase") == phase, phase, timeout
        )

    # Writing ---------------------------------------------------------------------------

    def create(self, manifest: dict) -> None:
        self.core.create_namespaced_pod(NS, manifest)

    def delete(self, name: str) -> None:
        self.core.delete_namespaced_pod(name, NS, grace_period_seconds=0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not any(p.metadata.name == name for p in self.core.list_namespaced_pod(NS).items):
                return
            time.sleep(0.05)

    def save(self, scenario: str, pod_name: str, note: str, *, devices: bool = False) -> dict:
        current = self.read_pod(pod_name)
        record = {
            "scenario": scenario,
            "note": note,
            "faults": self.lab.faults(),
            "pod": current,
            "events": self.events_of(current),
            "nodes": self.nodes(),
            "nads": self.nads(),
            "ippools": self.ippools(),
            "devices": self.lab.pod_devices(NS, pod_name) if devices else None,
        }
        write(self.folder / f"{scenario}.json", record)
        return record


def write(path: Path, record: dict) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path.name}")


def lab_spec() -> dict:
    from labsim.testing import SEED_SPEC

    spec = yaml.safe_load(SEED_SPEC.read_text())
    spec["timing"] = {"sandbox_delay_ms": 400}
    return spec


def capture(folder: Path) -> None:
    from labsim.testing import running_lab

    folder.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="capture-lab-") as tmp,
        running_lab(lab_spec(), Path(tmp)) as lab,
    ):
        run_scenarios(Capture(lab, folder))


def run_scenarios(cap: Capture) -> None:
    for index in RAILS:
        cap.custom.create_namespaced_custom_object(
            NAD_GROUP, NAD_VERSION, NS, NAD_PLURAL, nad(index)
        )

    # The seed pod: 4 rails + 8 GPUs, IPC_LOCK and SYS_NICE.
    cap.create(pod("training-worker-0", rails_json(), node="gpu-node-0"))
    cap.wait_phase("training-worker-0", "Running")
    cap.save("healthy", "training-worker-0", "The seed pod, running.", devices=True)

    # The comma form, every element spelled out: still healthy.
    comma = "sriov-rail-0@net1, ai-training/sriov-rail-1@net2"
    vfs = {"nvidia.com/rail0_vf": 1, "nvidia.com/rail1_vf": 1}
    cap.create(pod("comma-form", comma, gpus=0, vfs=vfs))
    cap.wait_phase("comma-form", "Running")
    cap.save("comma_form", "comma-form", "Comma-form annotation, running.", devices=True)

    # The comma form without interface names: Multus names them net1, net2 by position.
    vfs = {"nvidia.com/rail2_vf": 1, "nvidia.com/rail3_vf": 1}
    cap.create(pod("default-names", "sriov-rail-2, sriov-rail-3", gpus=0, vfs=vfs))
    cap.wait_phase("default-names", "Running")
    cap.save(
        "default_names",
        "default-names",
        "Rails 2 and 3 without interface names: Multus calls them net1 and net2.",
        devices=True,
    )

    # A NAD name typo.
    typo = rails_json(typo={1: "sriov-rial-1"})
    cap.create(pod("typo-worker", typo, node="gpu-node-1"))
    cap.wait_event("typo-worker", "FailedCreatePodSandBox")
    cap.save("nad_typo", "typo-worker", "sriov-rial-1 instead of sriov-rail-1.")

    # No IPC_LOCK.
    cap.create(pod("no-ipc-lock", rails_json(), gpus=0, capabilities=("SYS_NICE",)))
    cap.wait_phase("no-ipc-lock", "Running")
    cap.save("no_ipc_lock", "no-ipc-lock", "Running, but without IPC_LOCK.", devices=True)

    # Two attachments of rail 0, one VF requested.
    twice = [
        {"name": "sriov-rail-0", "interface": "net1"},
        {"name": "sriov-rail-0", "interface": "net5"},
    ]
    cap.create(pod("vf-short", twice, gpus=0, vfs={"nvidia.com/rail0_vf": 1}))
    cap.wait_event("vf-short", "FailedCreatePodSandBox")
    cap.save("vf_pci_required", "vf-short", "Two rail-0 attachments, one rail-0 VF requested.")

    # NUMA: half-node pods (4 GPUs + rails 0-3); GPUs 0-3 and rails 0-3 share NUMA node 0.
    cap.create(pod("numa-aligned", rails_json(), gpus=4, node="gpu-node-2"))
    cap.wait_phase("numa-aligned", "Running")
    cap.save("numa_aligned", "numa-aligned", "4 GPUs and 4 VFs on NUMA node 0.", devices=True)
    cap.lab.set_fault(numa_mismatch=True)
    cap.create(pod("numa-split", rails_json(), gpus=4, node="gpu-node-3"))
    cap.wait_phase("numa-split", "Running")
    cap.save(
        "numa_mismatch",
        "numa-split",
        "Fault numa_mismatch: the VFs sit on the NUMA node opposite the pod's GPUs.",
        devices=True,
    )
    cap.lab.clear_faults("numa_mismatch")

    # A VF resource that no node registers.
    cap.lab.set_fault(unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": "all"})
    cap.create(pod("unregistered", rails_json(), gpus=0))
    cap.wait_event("unregistered", "FailedScheduling")
    cap.save("unregistered_resource", "unregistered", "Fault unregister_resource rail3_vf.")
    cap.lab.clear_faults("unregister_resource")
    cap.wait_phase("unregistered", "Running")
    cap.save(
        "unregistered_recovered",
        "unregistered",
        "The same pod after the device plugin registered rail3_vf again: the old "
        "FailedScheduling event is history.",
        devices=True,
    )
    cap.delete("unregistered")

    # An exhausted whereabouts range.
    cap.lab.set_fault(exhaust_range={"range": "10.53.0.0/16"})
    cap.create(pod("exhausted", rails_json(), gpus=0))
    cap.wait_event("exhausted", "FailedCreatePodSandBox")
    cap.save("range_exhausted", "exhausted", "Fault exhaust_range 10.53.0.0/16.")
    cap.delete("exhausted")
    cap.lab.clear_faults("exhaust_range")

    # The device plugin goes away between scheduling and admission (a node reboot).
    cap.create(pod("after-reboot", rails_json(), gpus=0, node="gpu-node-3"))
    cap.wait("after-reboot", lambda p, _: bool((p.get("spec") or {}).get("nodeName")), "scheduling")
    cap.lab.set_fault(
        unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": ["gpu-node-3"]}
    )
    cap.wait_phase("after-reboot", "Failed")
    cap.save(
        "admission_error",
        "after-reboot",
        "Scheduled to gpu-node-3, whose rail3_vf device plugin then went away.",
    )
    cap.lab.clear_faults("unregister_resource")

    derive_topology_affinity(cap.folder)


def derive_topology_affinity(folder: Path) -> None:
    """The kubelet's Topology Manager rejection, on the captured NUMA-mismatch pod."""
    record = json.loads((folder / "numa_mismatch.json").read_text())
    message = "Resources cannot be allocated with Topology locality"
    pod_obj = copy.deepcopy(record["pod"])
    pod_obj["metadata"]["name"] = "numa-rejected"
    pod_obj["metadata"]["uid"] = "3f0d7a52-5d5e-4c6e-9a53-2b8d2f6c0a01"
    pod_obj["metadata"]["annotations"].pop("k8s.v1.cni.cncf.io/network-status", None)
    started = pod_obj["status"].get("startTime")
    pod_obj["status"] = {
        "phase": "Failed",
        "reason": "TopologyAffinityError",
        "message": f"Pod was rejected: {message}",
        "startTime": started,
        "qosClass": pod_obj["status"].get("qosClass"),
    }
    node = pod_obj["spec"]["nodeName"]
    event = copy.deepcopy(record["events"][0])
    event["metadata"]["name"] = "numa-rejected.17f0a1b2c3d4e5f6"
    event["involvedObject"].update(name="numa-rejected", uid=pod_obj["metadata"]["uid"])
    event.update(
        reason="TopologyAffinityError",
        message=message,
        type="Warning",
        count=1,
        source={"component": "kubelet", "host": node},
        reportingComponent="kubelet",
        reportingInstance=node,
    )
    record.update(
        scenario="topology_affinity",
        note="Crafted from numa_mismatch: labsim does not simulate Topology Manager; status and "
        "event as the kubelet writes them under single-numa-node.",
        crafted=True,
        pod=pod_obj,
        events=[event],
        devices=None,
    )
    write(folder / "topology_affinity.json", record)


if __name__ == "__main__":
    capture(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
