"""Diagnosis of one live pod: the cause, the fix, and the evidence (the event text).

Pure, like `clusters.inspect`: a pod dict, its events, the plan, node, NAD and IPPool dicts in;
findings out. Findings share their codes with preflight (planner.findings), so a user who met
NAD_NOT_FOUND in preflight meets the same code on a stuck pod. Each is a `Diagnosis`: a
planner Finding with an `evidence` field holding the words of the component that reported the
problem (scheduler, kubelet, Multus, SR-IOV CNI, whereabouts) or the observed fact.

Rules, each only while its symptom is current (a Running pod's old sandbox errors are history):
- FailedScheduling "Insufficient <resource>": not registered by any node (which nodes report
  how many), or all in use (RESOURCE_NOT_ADVERTISED, RESOURCE_INSUFFICIENT)
- NoNetworkFound / "cannot find a network-attachment-definition": NAD_NOT_FOUND, did you mean
- "VF pci addr is required": VF_COUNT_MISMATCH / VF_RESOURCE_MISSING /
  NAD_RESOURCE_ANNOTATION_MISSING
- "Could not allocate IP in range": RANGE_EXHAUSTED with the rail's utilisation
- UnexpectedAdmissionError: DEVICE_PLUGIN_NOT_READY; TopologyAffinityError: TOPOLOGY_AFFINITY
- GPUs and VFs on different NUMA nodes: NUMA_SPLIT ("RDMA works but throughput is half")
- no IPC_LOCK (SYS_NICE): IPC_LOCK_MISSING, SYS_NICE_MISSING
- a running pod's rail interface missing, in the wrong subnet, excluded, outside the pod range,
  duplicated or misnamed: INTERFACE_*, naming the rail and why
- anything else that keeps a pod from running: POD_NOT_RUNNING with the latest warning

One module per family: network_annotations, scheduling, sandbox, capabilities, numa, interfaces;
base holds what they share, runner the entry points.
"""

from __future__ import annotations

from clusters.diagnose.base import Diagnosis
from clusters.diagnose.runner import diagnose, diagnose_view

__all__ = [
    "Diagnosis",
    "diagnose",
    "diagnose_view",
]
