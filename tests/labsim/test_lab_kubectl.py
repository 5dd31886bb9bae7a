"""A second, independent client: Debian's kubectl 1.20 (package kubernetes-client).

kubectl 1.20 uses SPDY for exec, which the lab does not serve, so exec is not tried here.
"""

import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.timeout(120)

NAD = """
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: sriov-rail-{rail}
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/resourceName: nvidia.com/rail{rail}_vf
spec:
  config: '{{"cniVersion":"0.3.1","type":"sriov","name":"sriov-rail-{rail}",
    "ipam":{{"type":"whereabouts","range":"10.5{rail}.0.0/16"}}}}'
"""
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "worker-0",
        "namespace": "ai-training",
        "annotations": {"k8s.v1.cni.cncf.io/networks": "sriov-rail-0,sriov-rail-1"},
    },
    "spec": {
        "containers": [
            {
                "name": "trainer",
                "image": "nvcr.io/nvidia/pytorch:24.04-py3",
                "resources": {
                    "limits": {
                        "nvidia.com/gpu": "2",
                        "nvidia.com/rail0_vf": "1",
                        "nvidia.com/rail1_vf": "1",
                    }
                },
            }
        ]
    },
}


@pytest.fixture
def kubectl(debian_kubectl, lab, tmp_path):
    home = tmp_path / "home"
    home.mkdir()

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [
                str(debian_kubectl),
                "--kubeconfig",
                str(lab.kubeconfig_path),
                "--cache-dir",
                str(home / "cache"),
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(home)},
        )
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    return run


def test_kubectl_get_nodes(kubectl):
    lines = kubectl("get", "nodes").splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        (f"gpu-node-{i}", "Ready", "v1.30.4") for i in range(4)
    ]


def test_kubectl_server_side_apply_and_get_net_attach_defs(kubectl):
    for rail in range(2):
        out = kubectl(
            "apply",
            "--server-side",
            "--field-manager=railstudio",
            "-f",
            "-",
            stdin=NAD.format(rail=rail),
        )
        assert out.strip() == (
            f"networkattachmentdefinition.k8s.cni.cncf.io/sriov-rail-{rail} serverside-applied"
        )
    again = kubectl("apply", "--server-side", "-f", "-", stdin=NAD.format(rail=0))
    assert "serverside-applied" in again
    rows = [line.split() for line in kubectl("get", "net-attach-def", "-A").splitlines()]
    assert rows[0] == ["NAMESPACE", "NAME", "AGE"]
    assert [r[:2] for r in rows[1:]] == [
        ["ai-training", "sriov-rail-0"],
        ["ai-training", "sriov-rail-1"],
    ]
    applied = json.loads(
        kubectl("get", "net-attach-def", "sriov-rail-1", "-n", "ai-training", "-o", "json")
    )
    managers = {(f["manager"], f["operation"]) for f in applied["metadata"]["managedFields"]}
    assert ("railstudio", "Apply") in managers


def test_kubectl_get_pods_json(kubectl, lab):
    for rail in range(2):
        kubectl("apply", "--server-side", "-f", "-", stdin=NAD.format(rail=rail))
    kubectl("create", "-f", "-", stdin=json.dumps(POD))
    lab.wait_for_pod("ai-training", "worker-0")
    listing = json.loads(kubectl("get", "pods", "-n", "ai-training", "-o", "json"))
    assert listing["kind"] == "List"
    pod = listing["items"][0]
    assert (pod["kind"], pod["metadata"]["name"], pod["status"]["phase"]) == (
        "Pod",
        "worker-0",
        "Running",
    )
    statuses = json.loads(pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
    assert [s["name"] for s in statuses] == [
        "k8s-pod-network",
        "ai-training/sriov-rail-0",
        "ai-training/sriov-rail-1",
    ]
    table = kubectl("get", "pods", "-n", "ai-training", "-o", "wide").splitlines()
    assert table[1].split()[:3] == ["worker-0", "1/1", "Running"]
    described = kubectl("describe", "pod", "worker-0", "-n", "ai-training")
    assert "AddedInterface" in described and "Add net2 [10.51.0.1/16]" in described
