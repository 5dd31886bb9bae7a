"""The hardware of each node (GPUs, PFs, VFs) and which pod holds which device."""

import uuid
from dataclasses import dataclass, field

from labsim.spec import GPU_RESOURCE, LabSpec, NodeSpec, RailSpec

_GPU_UUID_NAMESPACE = uuid.UUID("6f1c1d52-8f6e-4a57-9b0e-2f4a1b7c9d10")


@dataclass(frozen=True)
class Gpu:
    node: str
    index: int
    uuid: str
    pci: str
    numa: int
    model: str


@dataclass(frozen=True)
class VirtualFunction:
    node: str
    rail: RailSpec
    vf_index: int
    pci: str
    mac: str
    rdma_device: str
    host_netdev: str

    @property
    def resource(self) -> str:
        return self.rail.resource


@dataclass(frozen=True)
class AllocatedVf:
    vf: VirtualFunction
    numa: int


@dataclass
class PodDevices:
    gpus: list[Gpu] = field(default_factory=list)
    vfs: dict[str, list[AllocatedVf]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "gpus": [
                {"index": g.index, "uuid": g.uuid, "pci": g.pci, "numa_node": g.numa}
                for g in self.gpus
            ],
            "vfs": [
                {
                    "resource": resource,
                    "rail": a.vf.rail.index,
                    "pci": a.vf.pci,
                    "pf": a.vf.rail.pf,
                    "pf_pci": a.vf.rail.pci,
                    "rdma_device": a.vf.rdma_device,
                    "numa_node": a.numa,
                }
                for resource, allocated in self.vfs.items()
                for a in allocated
            ],
        }


class AdmissionError(Exception):
    """The kubelet's device manager could not hand out what the pod was scheduled with."""

    def __init__(self, resource: str, requested: int, available: int):
        self.resource = resource
        self.requested = requested
        self.available = available
        super().__init__(
            f"Allocate failed due to requested number of devices unavailable for {resource}. "
            f"Requested: {requested}, Available: {available}, which is unexpected"
        )


def vf_pci(pf_pci: str, vf_index: int) -> str:
    """ConnectX VFs follow the PF at function 2, 3, ... rolling into the next device."""
    domain, bus, devfn = pf_pci.split(":")
    device = int(devfn.split(".")[0], 16)
    slot = 2 + vf_index
    return f"{domain}:{bus}:{device + slot // 8:02x}.{slot % 8}"


class NodeInventory:
    def __init__(self, node: NodeSpec):
        self.node = node
        self.gpus = [
            Gpu(
                node=node.name,
                index=g.index,
                uuid="GPU-" + str(uuid.uuid5(_GPU_UUID_NAMESPACE, f"{node.name}/{g.index}")),
                pci=g.pci,
                numa=g.numa,
                model=g.model,
            )
            for g in node.gpus
        ]
        self.vfs_by_resource: dict[str, list[VirtualFunction]] = {}
        first_vf_rdma = len(node.rails)
        for rail in node.rails:
            for i in range(rail.vfs):
                vf = VirtualFunction(
                    node=node.name,
                    rail=rail,
                    vf_index=i,
                    pci=vf_pci(rail.pci, i),
                    mac=f"02:{node.index >> 8:02x}:{node.index & 0xFF:02x}:{rail.index:02x}:"
                    f"{i >> 8:02x}:{(i & 0xFF) + 0x10:02x}",
                    rdma_device=f"mlx5_{first_vf_rdma + i}",
                    host_netdev=f"{rail.pf.removesuffix('np0')}v{i}",
                )
                self.vfs_by_resource.setdefault(rail.resource, []).append(vf)
            first_vf_rdma += rail.vfs
        self._gpu_owner: dict[int, str] = {}
        self._vf_owner: dict[str, str] = {}
        self._pods: dict[str, PodDevices] = {}

    def capacity(self) -> dict[str, int]:
        counts = {GPU_RESOURCE: len(self.gpus)}
        for resource, vfs in self.vfs_by_resource.items():
            counts[resource] = len(vfs)
        return counts

    def numa_fit(self, requests: dict[str, int], unregistered: set[str]) -> int | None:
        """The first NUMA node that can give the pod all its GPUs and VFs (what Topology
        Manager's single-numa-node policy requires), or None."""
        gpu_count = requests.get(GPU_RESOURCE, 0)
        for numa in range(self.node.numa_nodes):
            gpus = [
                g for g in self.gpus if g.numa == numa and g.index not in self._gpu_owner
            ] if GPU_RESOURCE not in unregistered else []  # fmt: skip
            if gpu_count > len(gpus):
                continue
            fits = all(
                count
                <= len([vf for vf in self._free_vfs(res, unregistered) if vf.rail.numa == numa])
                for res, count in requests.items()
                if res != GPU_RESOURCE and res in self.vfs_by_resource and count > 0
            )
            if fits:
                return numa
        return None

    def allocate(
        self,
        pod_key: str,
        requests: dict[str, int],
        unregistered: set[str],
        numa_mismatch: bool,
        numa: int | None = None,
    ) -> PodDevices:
        """GPUs and VFs for a pod; from NUMA node `numa` only when Topology Manager aligned it."""
        if pod_key in self._pods:
            return self._pods[pod_key]
        devices = PodDevices()
        gpu_count = requests.get(GPU_RESOURCE, 0)
        free_gpus = [
            g
            for g in self.gpus
            if g.index not in self._gpu_owner and (numa is None or g.numa == numa)
        ]
        if GPU_RESOURCE in unregistered:
            free_gpus = []
        if gpu_count > len(free_gpus):
            raise AdmissionError(GPU_RESOURCE, gpu_count, len(free_gpus))
        for resource, count in requests.items():
            if resource == GPU_RESOURCE or resource not in self.vfs_by_resource:
                continue
            free = self._free_vfs(resource, unregistered)
            if count > len(free):
                raise AdmissionError(resource, count, len(free))
        devices.gpus = free_gpus[:gpu_count]
        for resource, count in requests.items():
            if resource == GPU_RESOURCE or resource not in self.vfs_by_resource or count <= 0:
                continue
            free = self._free_vfs(resource, unregistered)
            chosen = [vf for vf in free if numa is None or vf.rail.numa == numa][:count]
            devices.vfs[resource] = [
                AllocatedVf(vf, self._reported_numa(vf, numa_mismatch)) for vf in chosen
            ]
        for gpu in devices.gpus:
            self._gpu_owner[gpu.index] = pod_key
        for allocated in devices.vfs.values():
            for a in allocated:
                self._vf_owner[a.vf.pci] = pod_key
        self._pods[pod_key] = devices
        return devices

    def release(self, pod_key: str) -> None:
        devices = self._pods.pop(pod_key, None)
        if not devices:
            return
        for gpu in devices.gpus:
            self._gpu_owner.pop(gpu.index, None)
        for allocated in devices.vfs.values():
            for a in allocated:
                self._vf_owner.pop(a.vf.pci, None)

    def _free_vfs(self, resource: str, unregistered: set[str]) -> list[VirtualFunction]:
        if resource in unregistered:
            return []
        return [vf for vf in self.vfs_by_resource.get(resource, []) if vf.pci not in self._vf_owner]

    def _reported_numa(self, vf: VirtualFunction, numa_mismatch: bool) -> int:
        if not numa_mismatch:
            return vf.rail.numa
        return (vf.rail.numa + 1) % self.node.numa_nodes


class Inventory:
    def __init__(self, spec: LabSpec):
        self.nodes = {node.name: NodeInventory(node) for node in spec.nodes}
