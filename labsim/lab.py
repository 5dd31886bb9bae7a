"""The lab cluster: the spec, the store and the simulated components, wired together."""

import ipaddress

from labsim import bootstrap
from labsim.cni import Multus, PodCidrAllocator, PodInterface
from labsim.daemonsets import DaemonSetController
from labsim.events import EventRecorder
from labsim.fabric import Fabric
from labsim.faults import Faults
from labsim.inventory import Inventory
from labsim.kubelet import Kubelet, PodRuntime, pod_key
from labsim.meta import now_rfc3339
from labsim.objects import ObjectService
from labsim.probes import Probes
from labsim.resources import Registry
from labsim.scheduler import Scheduler, pod_requests
from labsim.spec import LabSpec, NodeSpec
from labsim.status import ApiError, bad_request
from labsim.store import Store
from labsim.whereabouts import Whereabouts
from labsim.workqueue import WorkQueue

UNDELETABLE_NAMESPACES = ("default", "kube-system", "kube-public")
SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's default --service-cluster-ip-range
# A deleted namespace stays Terminating this long while the namespace controller empties it
# (seconds on a real cluster); writes into it meanwhile are refused with 403.
NAMESPACE_FINALIZE_SECONDS = 0.5


class Lab:
    def __init__(self, spec: LabSpec, ca_pem: str = ""):
        self.spec = spec
        self.ca_pem = ca_pem
        self.registry = Registry(spec.components)
        self.store = Store(self.registry, spec.watch_history)
        self.objects = ObjectService(self.store, self.registry)
        self.inventory = Inventory(spec)
        self.faults = Faults()
        self.work = WorkQueue()
        self.events = EventRecorder(self.store)
        self.scheduler = Scheduler()
        self.whereabouts = Whereabouts(self.store)
        self.pod_cidrs = PodCidrAllocator(spec)
        self.multus = Multus(spec, self.store, self.whereabouts, self.pod_cidrs)
        self.kubelet = Kubelet(self)
        self.daemonsets = DaemonSetController(self)
        self.fabric = Fabric(spec, self.faults)
        self.probes = Probes(self)
        self.on_unavailable = None  # set by the server: called when an outage starts
        self._pods = self.registry.by_key("", "pods")
        self._nodes = self.registry.by_key("", "nodes")
        self._namespaces = self.registry.by_key("", "namespaces")
        self._configmaps = self.registry.by_key("", "configmaps")
        self._services = self.registry.by_key("", "services")
        self._accounts = self.registry.by_key("", "serviceaccounts")
        self.service_ips = ServiceAddresses(SERVICE_CIDR)
        self.objects.create_hooks[self._services.key] = self.service_ips.assign
        self.objects.delete_hooks[self._pods.key] = self.kubelet.delete_pod
        self.objects.delete_hooks[self._namespaces.key] = self._delete_namespace
        self.store.subscribe(self._on_change)

    @property
    def whereabouts_busy(self) -> bool:
        return self.whereabouts.busy

    def start(self) -> None:
        """Populate the cluster; call from inside the running event loop."""
        self.work.start()
        if self.spec.faults:
            self.faults.merge(self.spec.faults, [n.name for n in self.spec.nodes], self._rails())
        bootstrap.populate(self)
        self.store.mark_history_floor()
        for cidr in self.faults.exhausted_ranges:
            self.whereabouts.exhaust(cidr)
        for manifest in self.spec.objects:
            self.create_manifest(manifest)

    async def close(self) -> None:
        self.kubelet.close()
        await self.probes.close()
        await self.work.stop()
        self.store.close_all_watches()

    def create_manifest(self, manifest: dict):
        resource = self.registry.by_kind(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        if resource is None:
            raise bad_request(
                f"no resource for {manifest.get('apiVersion')} {manifest.get('kind')}"
            )
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        return self.objects.create(resource, namespace, manifest, "labsim")

    # Components' views -------------------------------------------------------------------

    def register_system_pod(self, pod: dict, node: NodeSpec) -> None:
        key = pod_key(pod)
        host_network = bool(pod["spec"].get("hostNetwork"))
        runtime = PodRuntime(
            key=key,
            uid=pod["metadata"]["uid"],
            node=node.name,
            sandbox_id="",
            host_network=host_network,
            running=True,
        )
        for container in pod["spec"]["containers"]:
            runtime.containers[container["name"]] = ""
            runtime.capabilities[container["name"]] = {"NET_ADMIN", "SYS_ADMIN"}
        if host_network:
            runtime.interfaces = self.host_interfaces(node)
        else:
            address = pod["status"]["podIP"]
            runtime.interfaces = [
                PodInterface(
                    "eth0",
                    "0a:58:0a:00:00:02",
                    [ipaddress.ip_interface(f"{address}/32")],
                    1450,
                    self.spec.default_network.name,
                    7,
                )
            ]
        self.kubelet.runtimes[key] = runtime
        self.scheduler.account(key, node.name, pod_requests(pod))

    def host_interfaces(self, node: NodeSpec) -> list[PodInterface]:
        interfaces = [
            PodInterface(
                "eno1",
                f"3c:ec:ef:00:{node.index >> 8:02x}:{node.index & 0xFF:02x}",
                [ipaddress.ip_interface(f"{node.internal_ip}/16")],
                1500,
                "host",
            )
        ]
        for rail in node.rails:
            interfaces.append(
                PodInterface(
                    rail.pf,
                    f"b8:3f:d2:{node.index & 0xFF:02x}:{rail.index:02x}:00",
                    [],
                    rail.mtu,
                    "host",
                )
            )
        return interfaces

    def runtime(self, namespace: str, name: str) -> PodRuntime | None:
        return self.kubelet.runtimes.get(f"{namespace}/{name}")

    def pod_devices(self, namespace: str, name: str) -> dict | None:
        runtime = self.runtime(namespace, name)
        if runtime is None:
            return None
        devices = runtime.devices.as_dict() if runtime.devices else {"gpus": [], "vfs": []}
        devices["node"] = runtime.node
        devices["interfaces"] = [
            {
                "name": i.name,
                "mac": i.mac,
                "addresses": [str(a) for a in i.addresses],
                "network": i.network,
                "pci": i.vf.vf.pci if i.vf else None,
                "numa_node": i.vf.numa if i.vf else None,
            }
            for i in runtime.interfaces
        ]
        return devices

    # Faults ------------------------------------------------------------------------------

    def _rails(self) -> dict[str, int]:
        return {node.name: len(node.rails) for node in self.spec.nodes}

    def apply_faults(self, changes: dict) -> dict:
        names = self.faults.merge(changes, [n.name for n in self.spec.nodes], self._rails())
        self._after_fault_change(names)
        return self.faults.as_dict()

    def clear_faults(self, name: str | None = None) -> dict:
        exhausted = list(self.faults.exhausted_ranges)
        names = self.faults.clear(name)
        if "exhaust_range" in names:
            for cidr in exhausted:
                self.whereabouts.unexhaust(cidr)
        self._after_fault_change(names)
        return self.faults.as_dict()

    def _after_fault_change(self, names: set[str]) -> None:
        self.fabric.generation += 1
        if "unregister_resource" in names:
            self.refresh_nodes()
        if "exhaust_range" in names:
            for cidr in self.faults.exhausted_ranges:
                self.whereabouts.exhaust(cidr)
        if "unavailable" in names and self.faults.unavailable() and self.on_unavailable:
            self.on_unavailable(self.faults.unavailable_mode, self.faults.unavailable_seconds)
        self.kubelet.request_retry()

    def refresh_nodes(self) -> None:
        """Nodes report capacity/allocatable as their device plugins currently register it."""
        for node in self.spec.nodes:
            entry = self.store.get(self._nodes, "", node.name)
            if entry is None:
                continue
            capacity, allocatable = bootstrap.node_resources(
                node, self.faults.unregistered_on(node.name)
            )
            status = entry.obj.get("status") or {}
            if status.get("capacity") == capacity and status.get("allocatable") == allocatable:
                continue
            updated = {
                **entry.obj,
                "metadata": dict(entry.obj["metadata"]),
                "status": {**status, "capacity": capacity, "allocatable": allocatable},
            }
            self.objects.write(self._nodes, updated, "kubelet")

    # Namespaces --------------------------------------------------------------------------

    def _delete_namespace(self, resource, current, grace_seconds) -> dict:
        name = current.name
        if name in UNDELETABLE_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        if current.obj["metadata"].get("deletionTimestamp"):
            return current.obj
        updated = {
            **current.obj,
            "metadata": dict(current.obj["metadata"]),
            "status": {"phase": "Terminating"},
        }
        updated["metadata"]["deletionTimestamp"] = now_rfc3339()
        stored = self.store.put(resource, updated)
        self.work.call_later(NAMESPACE_FINALIZE_SECONDS, self._finalize_namespace, name)
        return stored.obj

    def _finalize_namespace(self, name: str) -> None:
        for resource in self.registry.types:
            if not resource.namespaced:
                continue
            for entry in self.store.items(resource, name):
                self.store.remove(resource, name, entry.name)
        self.store.remove(self._namespaces, "", name)

    def publish_apiserver(self, port: int) -> None:
        """The `kubernetes` Service, as kube-apiserver keeps it, once the port is known."""
        self.objects.create(
            self._services, "default", bootstrap.kubernetes_service(port), "kube-apiserver"
        )

    def _on_change(self, resource, event) -> None:
        if resource is self._namespaces and event.type == "ADDED":
            name = event.entry.name
            self.work.call_later(0, self._publish_default_account, name)
            if self.ca_pem and self.store.get(self._configmaps, name, "kube-root-ca.crt") is None:
                self.work.call_later(0, self._publish_root_ca, name)

    def _publish_default_account(self, namespace: str) -> None:
        """The service account controller gives every namespace a `default` ServiceAccount."""
        if self.store.get(self._namespaces, "", namespace) is None:
            return
        if self.store.get(self._accounts, namespace, "default") is None:
            self.store.put(self._accounts, bootstrap.default_service_account(namespace))

    def _publish_root_ca(self, namespace: str) -> None:
        if self.store.get(self._namespaces, "", namespace) is None:
            return
        if self.store.get(self._configmaps, namespace, "kube-root-ca.crt") is None:
            self.store.put(self._configmaps, bootstrap.root_ca_configmap(namespace, self.ca_pem))


class ServiceAddresses:
    """Cluster IPs from the service range: the first for `kubernetes`, the tenth for DNS, the
    rest in turn (a real apiserver picks at random)."""

    def __init__(self, cidr: str):
        self.network = ipaddress.ip_network(cidr)
        self.taken: set[str] = set()
        self._next = 11

    def assign(self, service: dict, dry_run: bool) -> None:
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        address = spec.get("clusterIP")
        if not address:
            while str(self.network[self._next]) in self.taken:
                self._next += 1
            address = str(self.network[self._next])
        spec["clusterIP"] = address
        spec["clusterIPs"] = [address]
        if not dry_run:
            self.taken.add(address)
