"""Cluster facts for preflight and the connection test, read through clusters.kube."""

from __future__ import annotations

from clusters.kube import Kube, KubeError

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
