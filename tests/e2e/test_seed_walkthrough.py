"""The seed walkthrough, end to end, through the product: a lab cluster, a 4-rail plan rolled
out by a real worker, the seed's training pod, inspection and exec; then the failure table."""

import copy
import ipaddress

import pytest
from kubernetes import client as k8s

from clusters import snapshots
from clusters.kube import Kube, Target
from clusters.models import Cluster, Rollout
from clusters.validation.probe import node_agent_daemonset
from planner import manifests
from planner.models import Exclusion, Plan
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
NS = "ai-training"


def build(operator_api, lab):
    made = operator_api.post(
        "/api/plans/",
        {"name": "Walkthrough", "slug": "training", "supernet": "10.50.0.0/14", "rail_count": 4},
        format="json",
    )
    assert made.status_code == 201, made.json()
    plan = Plan.objects.get(slug="training")
    for rail in plan.rails.all():
        Exclusion.objects.create(rail=rail, cidr=f"10.{50 + rail.index}.0.0/24")
    registered = operator_api.post(
        "/api/clusters/",
        {"name": "lab", "kubeconfig": lab.kubeconfig_path.read_text(), "plans": ["training"]},
        format="json",
    )
    assert registered.status_code == 201, registered.json()
    cluster = Cluster.objects.get(name="lab")
    Cluster.objects.filter(pk=cluster.pk).update(is_lab=True)  # as `labcluster up` registers it
    cluster.refresh_from_db()
    return plan, cluster


def seed_pod(plan, **changes) -> dict:
    pod = manifests.render_pod(plan.to_spec(), {"rails": [0, 1, 2, 3]})[0]
    pod["metadata"].update(changes.pop("metadata", {}))
    return pod


def test_the_seed_walkthrough_and_its_failure_table(operator_api, lab, celery_worker_thread):
    core = k8s.CoreV1Api(lab.api_client())
    multus = k8s.AppsV1Api(lab.api_client()).read_namespaced_daemon_set(
        "kube-multus-ds", "kube-system"
    )
    assert multus.status.number_ready == 4  # step 1: Multus runs on every node

    def events_of(name, reason):
        return [
            e
            for e in core.list_namespaced_event(NS).items
            if e.involved_object.name == name and e.reason == reason
        ]

    plan, cluster = build(operator_api, lab)
    started = operator_api.post(
        f"/api/clusters/{cluster.id}/rollouts/", {"plan": "training"}, format="json"
    )
    assert started.status_code == 202
    rollout = wait_for(
        lambda: (r := Rollout.objects.get(pk=started.json()["id"])).state == "succeeded" and r,
        timeout=60,
    )
    assert rollout.items.filter(kind="NetworkAttachmentDefinition", outcome="applied").count() == 4

    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    kube.create_pod(seed_pod(plan))
    lab.wait_for_pod(NS, "training-worker-0", timeout=20)
    assert snapshots.refresh(cluster)

    listed = operator_api.get(f"/api/clusters/{cluster.id}/pods/?namespace={NS}").json()
    assert [(p["name"], p["ok"]) for p in listed["results"]] == [("training-worker-0", True)]
    assert listed["snapshot"]["stale"] is False
    report = operator_api.get(f"/api/clusters/{cluster.id}/pods/{NS}/training-worker-0/").json()
    rails = {i["name"]: i for i in report["interfaces"]}
    assert sorted(rails) == ["net1", "net2", "net3", "net4"]
    for index in range(4):
        iface = rails[f"net{index + 1}"]
        assert iface["status"] == "ok" and iface["rail"] == index
        assert ipaddress.ip_address(iface["ips"][0]) in ipaddress.ip_network(
            f"10.{50 + index}.0.0/16"
        )

    ran = operator_api.post(
        f"/api/clusters/{cluster.id}/pods/{NS}/training-worker-0/exec/",
        {"command": "ip -br addr"},
        format="json",
    )
    assert ran.status_code == 202 and ran["Location"] == ran.json()["url"], ran.json()
    run = wait_for(
        lambda: (body := operator_api.get(ran.json()["url"]).json())["finished_at"] and body,
        timeout=30,
    )
    assert run["exit_code"] == 0, run
    output = run["stdout"]
    for name, iface in rails.items():
        line = next(line for line in output.splitlines() if line.startswith(name))
        assert iface["ips"][0] in line  # what the snapshot says is what the pod shows

    # The failure table.
    typo = seed_pod(plan, metadata={"name": "typo"})
    typo["metadata"]["annotations"][manifests.NETWORKS_ANNOTATION] = (
        '[{"name": "sriov-rial-1", "interface": "net2"}]'
    )
    typo["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/rail1_vf": "1"}
    no_lock = seed_pod(plan, metadata={"name": "no-ipc-lock"})
    no_lock["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_NICE"]
    no_lock["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "0"
    for pod in (typo, no_lock):
        kube.create_pod(copy.deepcopy(pod))
    lab.wait_for_pod(NS, "no-ipc-lock", timeout=20)
    # The node agent, through which inspection reads which devices a pod got (PodResources).
    kube.ensure_namespace("railstudio")
    kube.apply(node_agent_daemonset("railstudio", "railstudio:latest"))
    wait_for(lambda: len(kube.pods("railstudio", "railstudio.io/agent=true")) == 4, timeout=20)
    lab.set_fault(numa_mismatch=True)  # VFs from the socket opposite the pod's GPUs
    numa = seed_pod(plan, metadata={"name": "numa"})
    numa["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "4"
    kube.create_pod(numa)
    lab.wait_for_pod(NS, "numa", timeout=20)
    wait_for(
        lambda: (
            "k8s.v1.cni.cncf.io/network-status"
            in (core.read_namespaced_pod("numa", NS).metadata.annotations or {})
        )
    )
    lab.clear_faults()
    # Faults that stay on while we look: once fixed, the cluster would let these pods start.
    lab.set_fault(exhaust_range={"range": "10.52.0.0/16"})
    exhausted = seed_pod(plan, metadata={"name": "exhausted"})
    exhausted["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "0"
    kube.create_pod(exhausted)
    wait_for(lambda: events_of("exhausted", "FailedCreatePodSandBox"), timeout=20)
    lab.set_fault(unregister_resource={"resource": "nvidia.com/rail3_vf", "nodes": "all"})
    kube.create_pod(seed_pod(plan, metadata={"name": "unregistered"}))
    wait_for(lambda: events_of("unregistered", "FailedScheduling"), timeout=20)
    assert snapshots.refresh(cluster)

    def codes(name):
        report = operator_api.get(f"/api/clusters/{cluster.id}/pods/{NS}/{name}/").json()
        return {f["code"]: f for f in report["findings"]}

    nad = codes("typo")["NAD_NOT_FOUND"]
    assert "sriov-rail-1" in nad["message"] + nad["fix"]  # did you mean
    assert "IPC_LOCK_MISSING" in codes("no-ipc-lock")
    assert "RESOURCE_NOT_ADVERTISED" in codes("unregistered")
    assert "RANGE_EXHAUSTED" in codes("exhausted")
    numa_report = operator_api.get(f"/api/clusters/{cluster.id}/pods/{NS}/numa/").json()
    numa_net1 = next(i for i in numa_report["interfaces"] if i["name"] == "net1")
    assert (numa_net1["numa_node"], numa_net1["numa_source"]) == (1, "observed")  # the agent
    assert "NUMA_SPLIT" in {f["code"] for f in numa_report["findings"]}, (
        numa_report["phase"],
        [(i["name"], i["numa_node"], i["numa_source"]) for i in numa_report["interfaces"]],
        lab.pod_devices(NS, "numa"),
    )
    problems = operator_api.get(f"/api/clusters/{cluster.id}/pods/?problem=any").json()
    assert {p["name"] for p in problems["results"]} == {
        "typo",
        "no-ipc-lock",
        "unregistered",
        "exhausted",
        "numa",
    }
    by_code = operator_api.get(f"/api/clusters/{cluster.id}/pods/?problem=NAD_NOT_FOUND").json()
    assert [p["name"] for p in by_code["results"]] == ["typo"]
