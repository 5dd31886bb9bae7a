"""Cluster facts for preflight and the connection test, read through clusters.kube."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from clusters.kube import Kube, KubeError, Target, concurrently
from planner import manifests

NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"
SRIOV_GROUP = "sriovnetwork.openshift.io"


def _is_vf_resource(name: str) -> bool:
    """Extended resources (vendor/name) other than GPUs: the device plugins' VF pools."""
    return "/" in name and not name.endswith("/gpu")


def node_summaries(nodes: list[dict]) -> list[dict]:
    return [
        {
            "name": node["metadata"]["name"],
            "labels": node["metadata"].get("labels") or {},
            "allocatable": (node.get("status") or {}).get("allocatable") or {},
        }
        for node in nodes
    ]


def vf_resources(nodes: list[dict]) -> dict[str, dict[str, str]]:
    """{resource: {node: allocatable}} for the extended resources other than GPUs."""
    result: dict[str, dict[str, str]] = {}
    for node in node_summaries(nodes):
        for resource, amount in node["allocatable"].items():
            if _is_vf_resource(resource):
                result.setdefault(resource, {})[node["name"]] = amount
    return result


def connection_report(kube: Kube) -> dict:
    """Server version, node count, Multus (the NAD CRD), the SR-IOV operator, VF resources."""
    version = kube.version()
    nodes = kube.nodes()
    crds = kube.crd_names()
    try:
        groups = kube.api_groups()
    except KubeError:
        groups = set()
    return {
        "server_version": version,
        "node_count": len(nodes),
        "multus_installed": NAD_CRD in crds,
        "sriov_operator": SRIOV_GROUP in groups,
        "vf_resources": vf_resources(nodes),
    }


def preflight_facts(nodes: list[dict], nads: list[dict]) -> dict:
    """What preflight needs to know of a cluster, from its nodes and (all) its NADs."""
    return {
        "nodes": node_summaries(nodes),
        "nads": [
            {
                "namespace": nad["metadata"].get("namespace"),
                "name": nad["metadata"]["name"],
                "annotations": nad["metadata"].get("annotations") or {},
                "config": (nad.get("spec") or {}).get("config"),
            }
            for nad in nads
        ],
    }


LIVE_TIMEOUT = (3, 5)  # connect, read (seconds): a page waits for these reads


@dataclass(frozen=True)
class LiveFacts:
    """A cluster's NADs and nodes as preflight facts, read just now for a page."""

    facts: dict
    nads: int
    namespaces: int
    nodes: int
    multus: bool  # the NetworkAttachmentDefinition CRD exists
    milliseconds: int  # how long the reads took


def read_live_facts(target: Target, timeout: tuple = LIVE_TIMEOUT) -> LiveFacts:
    """The NADs of every namespace and the nodes, read at once, one attempt each, each bounded
    by `timeout`, so the page waits a few seconds at most. KubeError when the cluster does not
    answer; a cluster without Multus has no NADs (and says so)."""
    started = time.monotonic()
    with Kube(target, request_timeout=timeout, attempts=1) as kube:
        calls = [partial(kube.list, manifests.NAD_API_VERSION, manifests.NAD_KIND), kube.nodes]
        lists: dict[int, list[dict] | None] = {}
        for index, items, error in concurrently(calls, len(calls)):
            if error is not None and not (index == 0 and error.status == 404):
                raise error
            lists[index] = items  # None: no NAD CRD (404)
    nads, nodes = lists[0] or [], lists[1] or []
    return LiveFacts(
        facts=preflight_facts(nodes, nads),
        nads=len(nads),
        namespaces=len({(nad.get("metadata") or {}).get("namespace") for nad in nads}),
        nodes=len(nodes),
        multus=lists[0] is not None,
        milliseconds=round((time.monotonic() - started) * 1000),
    )
