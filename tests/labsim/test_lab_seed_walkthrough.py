"""The seed walkthrough against a lab run as a subprocess (`python -m labsim serve`):
confirm the Multus DaemonSet, apply 4 NADs, launch a pod with 4 networks and 8 GPUs, and
`ip -br addr` shows net1..net4, each on its own rail subnet."""

import ipaddress

import pytest
import yaml
from kubernetes import client
from kubernetes.stream import stream

from labsim.testing import SEED_SPEC, running_lab

pytestmark = pytest.mark.timeout(90)

NAD_TEMPLATE = """
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: sriov-rail-{rail}
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/resourceName: nvidia.com/rail{rail}_vf
spec:
  config: '{{
    "cniVersion": "0.3.1",
    "type": "sriov",
    "name": "sriov-rail-{rail}",
    "ipam": {{
      "type": "whereabouts",
      "range": "10.5{rail}.0.0/16",
      "exclude": ["10.5{rail}.0.0/24"]
    }}
  }}'
"""

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: training-worker-0
  namespace: ai-training
  annotations:
    k8s.v1.cni.cncf.io/networks: |
      [
        {"name": "sriov-rail-0", "interface": "net1"},
        {"name": "sriov-rail-1", "interface": "net2"},
        {"name": "sriov-rail-2", "interface": "net3"},
        {"name": "sriov-rail-3", "interface": "net4"}
      ]
spec:
  containers:
  - name: trainer
    image: nvcr.io/nvidia/pytorch:24.04-py3
    resources:
      limits:
        nvidia.com/gpu: 8
        nvidia.com/rail0_vf: 1
        nvidia.com/rail1_vf: 1
        nvidia.com/rail2_vf: 1
        nvidia.com/rail3_vf: 1
    securityContext:
      capabilities:
        add: ["IPC_LOCK", "SYS_NICE"]
"""


def test_seed_walkthrough(tmp_path):
    with running_lab(SEED_SPEC, tmp_path, subprocess=True) as lab:
        apps = client.AppsV1Api(lab.api_client())
        multus = apps.read_namespaced_daemon_set("kube-multus-ds", "kube-system")
        assert multus.status.number_ready == multus.status.desired_number_scheduled == 4

        dynamic = lab.dynamic_client()
        nads = dynamic.resources.get(
            api_version="k8s.cni.cncf.io/v1", kind="NetworkAttachmentDefinition"
        )
        for rail in range(4):
            nads.server_side_apply(
                yaml.safe_load(NAD_TEMPLATE.format(rail=rail)),
                field_manager="railstudio",
                force_conflicts=True,
            )
        assert len(nads.get(namespace="ai-training").items) == 4

        pods = dynamic.resources.get(api_version="v1", kind="Pod")
        pods.create(body=yaml.safe_load(POD), namespace="ai-training")
        pod = lab.wait_for_pod("ai-training", "training-worker-0")
        assert pod["status"]["containerStatuses"][0]["ready"] is True

        core = client.CoreV1Api(lab.api_client())
        output = stream(
            core.connect_get_namespaced_pod_exec,
            "training-worker-0",
            "ai-training",
            command=["ip", "-br", "addr"],
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
        )
        interfaces = {line.split()[0]: line.split()[2:] for line in output.splitlines()}
        assert list(interfaces)[:2] == ["lo", next(n for n in interfaces if n.startswith("eth0@"))]
        subnets = []
        for rail in range(4):
            address = ipaddress.ip_interface(interfaces[f"net{rail + 1}"][0])
            assert address.network == ipaddress.ip_network(f"10.5{rail}.0.0/16")
            subnets.append(address.network)
        assert len(set(subnets)) == 4

        process = lab.process
        lab.stop()
        assert process.returncode == 0  # SIGTERM stops it cleanly
        assert "labsim: stopped" in (tmp_path / "labsim.log").read_text()
