"""The kubelet PodResources API (v1, gRPC over the unix socket the kubelet serves at
/var/lib/kubelet/pod-resources/kubelet.sock): which devices (GPUs, VFs) each container on the
node got, with their NUMA nodes."""

from __future__ import annotations

import os

import grpc

from agent.podresources_v1 import api_pb2, api_pb2_grpc

DEFAULT_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # the kubelet answers up to 16 MiB by default


class PodResourcesError(Exception):
    pass


def _devices(container) -> list[dict]:
    return [
        {
            "resource": device.resource_name,
            "ids": list(device.device_ids),
            "numa_nodes": sorted({node.ID for node in device.topology.nodes}),
        }
        for device in container.devices
    ]


def as_dicts(response) -> list[dict]:
    """A ListPodResourcesResponse as plain data, sorted by namespace and name."""
    pods = [
        {
            "namespace": pod.namespace,
            "name": pod.name,
            "containers": [
                {
                    "name": container.name,
                    "devices": _devices(container),
                    "cpu_ids": list(container.cpu_ids),
                }
                for container in pod.containers
            ],
        }
        for pod in response.pod_resources
    ]
    return sorted(pods, key=lambda pod: (pod["namespace"], pod["name"]))


def list_pods(socket_path: str = DEFAULT_SOCKET, timeout: float = 5.0) -> list[dict]:
    """Call v1.PodResourcesLister/List; PodResourcesError says why it could not."""
    if not os.path.exists(socket_path):
        raise PodResourcesError(
            f"no PodResources socket at {socket_path} (mount the kubelet's "
            "/var/lib/kubelet/pod-resources read-only)"
        )
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    with grpc.insecure_channel(f"unix://{os.path.abspath(socket_path)}", options=options) as ch:
        stub = api_pb2_grpc.PodResourcesListerStub(ch)
        try:
            response = stub.List(api_pb2.ListPodResourcesRequest(), timeout=timeout)
        except grpc.RpcError as error:
            raise PodResourcesError(
                f"PodResources List failed: {error.code().name}: {error.details()}"
            ) from None
    return as_dicts(response)
