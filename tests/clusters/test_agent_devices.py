"""Inspection reads which devices a pod got, and their NUMA nodes, from the node agent (the
kubelet's PodResources) on any cluster: here the lab, running the real agent."""

import io
from collections import OrderedDict

import pytest
import yaml
from django.core.management import call_command

from clusters import agent_devices, snapshots
from clusters.kube import Kube, Target
from clusters.validation.probe import node_agent_daemonset
from planner import manifests
from tests.helpers import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


def test_devices_come_from_the_node_agents_and_are_remembered(lab, seed_plan):
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    spec = seed_plan.to_spec()
    kube.ensure_namespace(spec.namespace)
    for obj in manifests.render_nads(spec):
        kube.apply(obj)
    pod = manifests.render_pod(spec, {"rails": [0, 1, 2, 3]})[0]
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "4"
    lab.set_fault(numa_mismatch=True)
    kube.create_pod(pod)
    name = pod["metadata"]["name"]
    lab.wait_for_pod(spec.namespace, name)
    lab.clear_faults()
    assert snapshots.collect(kube)["devices"] == {}  # no agent on the cluster yet

    kube.ensure_namespace("railstudio")
    kube.apply(node_agent_daemonset("railstudio", "railstudio:latest"))
    wait_for(lambda: len(agent_devices.agent_pods(kube.pods("railstudio"))) == 4, timeout=20)
    remembered = OrderedDict()
    devices = snapshots.collect(kube, remembered_devices=remembered)["devices"]
    entry = devices[f"{spec.namespace}/{name}"]
    assert {g["numa_node"] for g in entry["gpus"]} == {0} and len(entry["gpus"]) == 4
    assert [v["numa_node"] for v in entry["vfs"]] == [1, 1, 1, 1]  # opposite their GPUs
    assert {v["resource"] for v in entry["vfs"]} == {f"nvidia.com/rail{r}_vf" for r in range(4)}
    assert len(remembered) == 1

    kube.delete("apps/v1", "DaemonSet", "railstudio-node-agent", "railstudio")
    wait_for(lambda: not kube.pods("railstudio"), timeout=20)
    again = snapshots.collect(kube, remembered_devices=remembered)["devices"]
    assert again[f"{spec.namespace}/{name}"] == entry  # a pod's devices do not change


def test_the_node_agent_manifest_command(lab, lab_cluster):
    out = io.StringIO()
    call_command("node_agent", "--namespace", "agents", stdout=out)
    manifest = yaml.safe_load(out.getvalue())
    assert (manifest["kind"], manifest["metadata"]["namespace"]) == ("DaemonSet", "agents")
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "agent", "--idle"]
    assert container["volumeMounts"][0]["readOnly"] is True
    out = io.StringIO()
    call_command("node_agent", "--cluster", "lab", stdout=out)
    assert "applied to lab" in out.getvalue()
    kube = Kube(Target(kubeconfig=lab.kubeconfig_path.read_text()))
    assert kube.get("apps/v1", "DaemonSet", "railstudio-node-agent", "railstudio") is not None
