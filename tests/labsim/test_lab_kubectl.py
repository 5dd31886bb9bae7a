"""Independent clients: Debian's kubectl 1.20 (package kubernetes-client) and a current kubectl
(1.35), each through the same scripted session (get, describe, apply, apply --server-side,
diff, apply --dry-run=server, explain, auth can-i, events, delete).

kubectl 1.20 uses SPDY for exec, which the lab does not serve, so exec is not tried here.
"""

import json
import os
import re
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


@pytest.fixture(params=["debian", "current"])
def kubectl_binary(request):
    return request.getfixturevalue(f"{request.param}_kubectl")


def runner(binary, lab, home):
    """Run kubectl against the lab: (exit code, stdout, stderr)."""
    home.mkdir(exist_ok=True)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        done = subprocess.run(
            [
                str(binary),
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
            env={**os.environ, "HOME": str(home), "KUBECTL_EXTERNAL_DIFF": "diff -u"},
        )
        return done.returncode, done.stdout, done.stderr

    return run


def succeeding(run):
    def checked(*args: str, stdin: str | None = None) -> str:
        code, out, err = run(*args, stdin=stdin)
        assert code == 0, f"kubectl {' '.join(args)}: {err}"
        return out

    return checked


@pytest.fixture
def kubectl_run(kubectl_binary, lab, tmp_path):
    return runner(kubectl_binary, lab, tmp_path / "home")


@pytest.fixture
def kubectl(kubectl_run):
    return succeeding(kubectl_run)


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
    path = "/apis/k8s.cni.cncf.io/v1/namespaces/ai-training/network-attachment-definitions"
    applied = json.loads(kubectl("get", "--raw", f"{path}/sriov-rail-1"))  # with managedFields
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


TEMPLATE = """
apiVersion: v1
kind: PodTemplate
metadata:
  name: training-worker
  namespace: ai-training
template:
  metadata:
    annotations:
      k8s.v1.cni.cncf.io/networks: '[{"name":"sriov-rail-0","interface":"net1"}]'
  spec:
    containers:
    - name: trainer
      image: nvcr.io/nvidia/pytorch:24.04-py3
      resources:
        limits: {nvidia.com/gpu: "1", nvidia.com/rail0_vf: "1"}
"""


def test_a_scripted_kubectl_session(kubectl, kubectl_run, lab):
    version = kubectl("version", "-o", "json")
    assert '"gitVersion": "v1.30.4"' in version

    # apply (client-side, validated against /openapi/v2), then server-side apply
    assert kubectl("apply", "-f", "-", stdin=NAD.format(rail=0)).strip() == (
        "networkattachmentdefinition.k8s.cni.cncf.io/sriov-rail-0 created"
    )
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=TEMPLATE)
    templates = kubectl("get", "podtemplates", "-n", "ai-training").splitlines()
    assert templates[0].split() == ["NAME", "CONTAINERS", "IMAGES", "POD", "LABELS"]
    assert templates[1].split()[:3] == [
        "training-worker",
        "trainer",
        "nvcr.io/nvidia/pytorch:24.04-py3",
    ]

    # diff: nothing for what is live (the server's defaults are not differences), then a change
    for manifest in (NAD.format(rail=0), TEMPLATE):
        code, out, err = kubectl_run("diff", "-f", "-", stdin=manifest)
        assert (code, out) == (0, ""), err
    changed = NAD.format(rail=0).replace("10.50.0.0/16", "10.60.0.0/16")
    code, out, err = kubectl_run("diff", "-f", "-", stdin=changed)
    assert code == 1, err
    assert '+  config: \'{"cniVersion":"0.3.1"' in out and "10.60.0.0/16" in out

    # apply --dry-run=server changes nothing
    out = kubectl("apply", "--dry-run=server", "-f", "-", stdin=changed)
    assert out.strip() == (
        "networkattachmentdefinition.k8s.cni.cncf.io/sriov-rail-0 configured (server dry run)"
    )
    live = json.loads(
        kubectl("get", "net-attach-def", "sriov-rail-0", "-n", "ai-training", "-o", "json")
    )
    assert "10.50.0.0/16" in live["spec"]["config"]

    # explain, for a built-in kind and a custom one
    explained = kubectl("explain", "podtemplate.template.spec.containers.resources")
    assert "KIND:" in explained and "limits" in explained and "requests" in explained
    assert "JSON-formatted CNI configuration" in kubectl("explain", "net-attach-def.spec.config")

    # auth can-i (SelfSubjectAccessReview), services, service accounts, cluster-info
    can = kubectl("auth", "can-i", "create", "network-attachment-definitions", "-n", "ai-training")
    assert can.strip() == "yes"
    services = kubectl("get", "services", "-A").splitlines()
    assert services[0].split()[:4] == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP"]
    assert {tuple(row.split()[:4]) for row in services[1:]} == {
        ("default", "kubernetes", "ClusterIP", "10.96.0.1"),
        ("kube-system", "kube-dns", "ClusterIP", "10.96.0.10"),
    }
    accounts = kubectl("get", "serviceaccounts", "-n", "ai-training").splitlines()
    assert [row.split()[0] for row in accounts[1:]] == ["default"]
    info = re.sub(r"\x1b\[[0-9;]*m", "", kubectl("cluster-info"))  # without its colours
    assert f"is running at {lab.url}" in info and "CoreDNS is running at" in info

    # a pod, its events (the apiserver's columns) and describe
    kubectl("apply", "--server-side", "-f", "-", stdin=NAD.format(rail=1))
    kubectl("create", "-f", "-", stdin=json.dumps(POD))
    lab.wait_for_pod("ai-training", "worker-0")
    events = kubectl("get", "events", "-n", "ai-training", "-o", "wide").splitlines()
    assert events[0].split() == [
        "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST",
        "SEEN", "COUNT", "NAME",
    ]  # fmt: skip
    assert any("AddedInterface" in row and "pod/worker-0" in row for row in events[1:])
    described = kubectl("describe", "pod", "worker-0", "-n", "ai-training")
    assert "Status:" in described and "Running" in described and "AddedInterface" in described

    # delete
    out = kubectl("delete", "-f", "-", stdin=NAD.format(rail=0))
    # (kubectl 1.35 adds "from ai-training namespace")
    assert out.startswith('networkattachmentdefinition.k8s.cni.cncf.io "sriov-rail-0" deleted')
    code, _, err = kubectl_run("get", "net-attach-def", "sriov-rail-0", "-n", "ai-training")
    assert code == 1 and "NotFound" in err


def test_kubectl_events_lists_a_pods_events(current_kubectl, lab, tmp_path):
    """`kubectl events` arrived in kubectl 1.26; 1.20 has only `get events` (above)."""
    kubectl = succeeding(runner(current_kubectl, lab, tmp_path / "home"))
    for rail in range(2):
        kubectl("apply", "--server-side", "-f", "-", stdin=NAD.format(rail=rail))
    kubectl("create", "-f", "-", stdin=json.dumps(POD))
    lab.wait_for_pod("ai-training", "worker-0")
    rows = kubectl("events", "-n", "ai-training", "--for", "pod/worker-0").splitlines()
    assert rows[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Scheduled" in row for row in rows[1:])
