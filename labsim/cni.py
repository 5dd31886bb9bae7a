"""Pod network setup as Multus, SR-IOV CNI and whereabouts do it on a real node.

Multus reads the pod's `k8s.v1.cni.cncf.io/networks` annotation, loads each
NetworkAttachmentDefinition, adds the cluster network as eth0 and then each attachment in
order (net1, net2, ...), handing SR-IOV CNI the next device the device plugin allocated for
the NAD's resourceName. The messages below are the ones those components produce.
"""

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _encode_string

from labsim.inventory import AllocatedVf, PodDevices
from labsim.resources import NAD_TYPE
from labsim.spec import LabSpec, NodeSpec
from labsim.store import Store
from labsim.whereabouts import IpamError, IpRange, Whereabouts, parse_ranges

NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"
_NAD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SRIOV_TYPES = ("sriov", "ib-sriov")


@dataclass
class NetworkSelection:
    name: str
    namespace: str
    interface: str = ""
    ips: list[str] = field(default_factory=list)
    mac: str = ""


@dataclass
class PodInterface:
    name: str
    mac: str
    addresses: list  # ipaddress.IPv4Interface / IPv6Interface
    mtu: int
    network: str
    link_index: int = 0
    vf: AllocatedVf | None = None


@dataclass
class SandboxResult:
    ok: bool
    interfaces: list[PodInterface] = field(default_factory=list)
    network_status: list[dict] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # type, reason, msg, by
    error: str = ""


class MultusError(Exception):
    pass


class PluginError(Exception):
    """A delegate CNI plugin failed ADD for one attachment."""

    def __init__(self, net_name: str, message: str):
        super().__init__(message)
        self.net_name = net_name


def parse_networks(value: str, pod_namespace: str) -> list[NetworkSelection]:
    """Parse the networks annotation in its comma form or its JSON form, as Multus does."""
    value = value.strip()
    if not value:
        return []
    if any(char in value for char in '[{"'):
        try:
            items = json.loads(value)
        except ValueError as error:
            raise MultusError(
                "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection "
                f"Annotation JSON format: {error}"
            ) from error
        if isinstance(items, dict):
            items = [items]
        selections = []
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                raise MultusError(
                    "parsePodNetworkAnnotation: failed to parse pod Network "
                    "Attachment Selection Annotation JSON format: name is required"
                )
            selections.append(
                NetworkSelection(
                    name=str(item["name"]),
                    namespace=str(item.get("namespace") or pod_namespace),
                    interface=str(item.get("interface") or ""),
                    ips=[str(ip) for ip in item.get("ips") or []],
                    mac=str(item.get("mac") or ""),
                )
            )
    else:
        selections = [
            _parse_comma_item(part.strip(), pod_namespace)
            for part in value.split(",")
            if part.strip()
        ]
    for selection in selections:
        _check_interface(selection.interface)
        if not _NAD_NAME.match(selection.name):
            raise MultusError(
                f"parsePodNetworkObjectName: one of namespace, network name or interface name "
                f"contains invalid characters ({selection.namespace}/{selection.name})"
            )
    return selections


def _parse_comma_item(item: str, pod_namespace: str) -> NetworkSelection:
    namespace, _, rest = item.rpartition("/")
    name, _, interface = rest.partition("@")
    return NetworkSelection(name=name, namespace=namespace or pod_namespace, interface=interface)


def _check_interface(interface: str) -> None:
    if interface and (len(interface) > 15 or "/" in interface or " " in interface):
        raise MultusError(
            "parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 "
            f"chars and not contain '/' or spaces. interface name '{interface}'"
        )


def _marshal_indent(value, pad: str = "") -> str:
    """json.MarshalIndent(value, "", "    ") as Go writes it."""
    inner = pad + "    "
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = [
            inner + _encode_string(key) + ": " + _marshal_indent(item, inner)
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(parts) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        parts = [inner + _marshal_indent(item, inner) for item in value]
        return "[\n" + ",\n".join(parts) + "\n" + pad + "]"
    if isinstance(value, str):
        return _encode_string(value)
    return json.dumps(value)


def render_network_status(entries: list[dict]) -> str:
    """Multus writes each element with json.MarshalIndent(..., "", "    ") joined by ","."""
    return "[" + ",".join(_marshal_indent(entry) for entry in entries) + "]"


def mac_for(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x0A | (digest[0] & 0xF0), *digest[1:6]))


class PodCidrAllocator:
    """The cluster network's per-node addresses (Calico or flannel IPAM)."""

    def __init__(self, spec: LabSpec):
        self._networks = {n.name: ipaddress.ip_network(n.pod_cidr) for n in spec.nodes}
        self._used: dict[str, dict[int, str]] = {n.name: {} for n in spec.nodes}

    def allocate(
        self, node: str, pod_key: str
    ) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Network]:
        network = self._networks[node]
        used = self._used[node]
        for offset, owner in used.items():
            if owner == pod_key:
                return network.network_address + offset, network
        for offset in range(2, network.num_addresses - 1):
            if offset not in used:
                used[offset] = pod_key
                return network.network_address + offset, network
        raise PluginError(
            "",
            f"failed to allocate for range 0: no IP addresses available in "
            f"range set: {network[2]}-{network[-2]}",
        )

    def release(self, node: str, pod_key: str) -> None:
        used = self._used.get(node, {})
        for offset in [o for o, owner in used.items() if owner == pod_key]:
            del used[offset]


class Multus:
    def __init__(
        self, spec: LabSpec, store: Store, whereabouts: Whereabouts, pod_cidrs: PodCidrAllocator
    ):
        self.spec = spec
        self.store = store
        self.whereabouts = whereabouts
        self.pod_cidrs = pod_cidrs
        # pod key -> [(IpRange, podref, ifname)] reserved in whereabouts
        self._reservations: dict[str, list[tuple[IpRange, str, str]]] = {}
        # (NAD uid, resourceVersion) -> parsed plugin config and whereabouts ranges
        self._configs: dict[tuple[str, str], tuple[dict, object]] = {}

    def setup(
        self, pod: dict, node: NodeSpec, devices: PodDevices | None, sandbox_id: str
    ) -> SandboxResult:
        metadata = pod["metadata"]
        namespace, name, uid = metadata["namespace"], metadata["name"], metadata["uid"]
        pod_key = f"{namespace}/{name}"
        prefix = (
            f"Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "
            f'network for sandbox "{sandbox_id}": plugin type="multus" '
            f'name="multus-cni-network" failed (add): '
        )
        result = SandboxResult(ok=False)
        try:
            delegates = self._load_delegates(pod, result) if self.spec.components.multus else []
        except MultusError as error:
            result.error = (
                f"{prefix}Multus: [{namespace}/{name}/{uid}]: error loading k8s "
                f"delegates k8s args: TryLoadPodDelegates: error in getting k8s "
                f"network for pod: {error}"
            )
            return result
        try:
            result.interfaces.append(self._add_default(pod_key, node, uid, result))
            used_devices: dict[str, int] = {}
            for position, (selection, nad, conf) in enumerate(delegates, start=1):
                interface = self._add_delegate(
                    pod_key, position, selection, nad, conf, devices, used_devices, sandbox_id
                )
                result.interfaces.append(interface)
                result.network_status.append(self._status_entry(interface))
                ips = "[" + " ".join(str(a) for a in interface.addresses) + "]"
                result.events.append(
                    (
                        "Normal",
                        "AddedInterface",
                        f"Add {interface.name} {ips} from {interface.network}",
                        "multus",
                    )
                )
        except PluginError as error:
            self.teardown(pod_key, node.name)
            result.interfaces.clear()
            result.network_status.clear()
            net = error.net_name or self.spec.default_network.name
            result.error = (
                f"{prefix}[{namespace}/{name}/{uid}:{net}]: error adding container "
                f'to network "{net}": {error}'
            )
            return result
        result.ok = True
        if not self.spec.components.multus or namespace == "kube-system":
            result.network_status = []
        return result

    def _load_delegates(self, pod: dict, result: SandboxResult) -> list[tuple]:
        metadata = pod["metadata"]
        annotation = (metadata.get("annotations") or {}).get(NETWORKS_ANNOTATION, "")
        selections = parse_networks(annotation, metadata["namespace"])
        delegates = []
        for selection in selections:
            entry = self.store.get(NAD_TYPE, selection.namespace, selection.name)
            if entry is None:
                message = (
                    f"cannot find a network-attachment-definition ({selection.name}) in "
                    f"namespace ({selection.namespace}): "
                    f'network-attachment-definitions.k8s.cni.cncf.io "{selection.name}" '
                    f"not found"
                )
                result.events.append(("Warning", "NoNetworkFound", message, "multus"))
                raise MultusError(
                    "GetNetworkDelegates: failed getting the delegate: "
                    f"getKubernetesDelegate: {message}"
                )
            delegates.append((selection, entry.obj, self._conf(entry.obj, selection)))
        return delegates

    def _conf(self, nad: dict, selection: NetworkSelection) -> dict:
        metadata = nad["metadata"]
        key = (metadata.get("uid", ""), metadata.get("resourceVersion", ""))
        cached = self._configs.get(key)
        if cached is None:
            if len(self._configs) > 1024:
                self._configs.clear()
            conf = _plugin_conf(nad, selection)
            try:
                ranges = parse_ranges(conf.get("ipam") or {})
            except IpamError as error:
                ranges = error
            cached = self._configs[key] = (conf, ranges)
        return cached[0]

    def _ranges(self, nad: dict) -> list[IpRange]:
        metadata = nad["metadata"]
        ranges = self._configs[(metadata.get("uid", ""), metadata.get("resourceVersion", ""))][1]
        if isinstance(ranges, IpamError):
            raise ranges
        return ranges

    def _add_default(
        self, pod_key: str, node: NodeSpec, uid: str, result: SandboxResult
    ) -> PodInterface:
        address, network = self.pod_cidrs.allocate(node.name, pod_key)
        calico = self.spec.default_network.plugin == "calico"
        prefix = 32 if calico else network.prefixlen
        interface = PodInterface(
            name="eth0",
            mac=mac_for(uid + "/eth0"),
            addresses=[ipaddress.ip_interface(f"{address}/{prefix}")],
            mtu=1450,
            network=self.spec.default_network.name,
            link_index=int(hashlib.sha256(uid.encode()).hexdigest()[:4], 16) % 200 + 10,
        )
        entry = {"name": self.spec.default_network.name}
        if not calico:
            entry["interface"] = "eth0"
        entry["ips"] = [str(address)]
        if not calico:
            entry["mac"] = interface.mac
        entry["default"] = True
        entry["dns"] = {}
        if not calico:
            entry["gateway"] = [str(network.network_address + 1)]
        result.network_status.append(entry)
        ips = f"[{interface.addresses[0]}]"
        if self.spec.components.multus:
            result.events.append(
                ("Normal", "AddedInterface", f"Add eth0 {ips} from {interface.network}", "multus")
            )
        return interface

    def _add_delegate(
        self,
        pod_key,
        position,
        selection: NetworkSelection,
        nad: dict,
        conf: dict,
        devices: PodDevices | None,
        used_devices: dict,
        sandbox_id: str,
    ) -> PodInterface:
        net_name = str(conf.get("name") or selection.name)
        plugin_type = str(conf.get("type") or "")
        ifname = selection.interface or f"net{position}"
        resource = ((nad.get("metadata") or {}).get("annotations") or {}).get(
            RESOURCE_NAME_ANNOTATION
        )
        allocated: AllocatedVf | None = None
        if resource:
            pool = (devices.vfs.get(resource) if devices else None) or []
            index = used_devices.get(resource, 0)
            if index < len(pool):
                allocated = pool[index]
                used_devices[resource] = index + 1
        if plugin_type in _SRIOV_TYPES and allocated is None:
            raise PluginError(
                net_name, "SRIOV-CNI failed to load netconf: LoadConf(): VF pci addr is required"
            )
        device = allocated.vf.rail.pf if allocated else str(conf.get("master") or "")
        addresses = self._run_ipam(
            pod_key, ifname, net_name, plugin_type, device, nad, selection, sandbox_id
        )
        mac = selection.mac or (allocated.vf.mac if allocated else mac_for(pod_key + ifname))
        mtu = int(conf.get("mtu") or (allocated.vf.rail.mtu if allocated else 1500))
        return PodInterface(
            name=ifname,
            mac=mac,
            addresses=addresses,
            mtu=mtu,
            network=f"{selection.namespace}/{selection.name}",
            vf=allocated,
        )

    def _run_ipam(
        self,
        pod_key,
        ifname,
        net_name,
        plugin_type,
        device,
        nad: dict,
        selection: NetworkSelection,
        sandbox_id: str,
    ) -> list:
        ipam = self._conf(nad, selection).get("ipam") or {}
        ipam_type = str(ipam.get("type") or "")
        if not ipam_type:
            return []

        def failure(message: str) -> PluginError:
            if plugin_type in _SRIOV_TYPES:
                message = (
                    f'failed to set up IPAM plugin type "{ipam_type}" from the device '
                    f'"{device}": {message}'
                )
            return PluginError(net_name, message)

        if ipam_type == "whereabouts":
            if not self.spec.components.whereabouts:
                raise failure('failed to find plugin "whereabouts" in path [/opt/cni/bin]')
            try:
                ranges = self._ranges(nad)
                addresses = []
                for ip_range in ranges:
                    addresses.append(
                        self.whereabouts.allocate(ip_range, pod_key, ifname, sandbox_id)
                    )
                    self._reservations.setdefault(pod_key, []).append((ip_range, pod_key, ifname))
                return addresses
            except IpamError as error:
                raise failure(f"error at storage engine: {error}") from error
        if ipam_type == "static":
            addresses = [a.get("address") for a in ipam.get("addresses") or [] if a.get("address")]
            addresses += selection.ips
            try:
                return [ipaddress.ip_interface(a) for a in addresses]
            except ValueError as error:
                raise failure(f"invalid static address: {error}") from error
        raise failure(f'failed to find plugin "{ipam_type}" in path [/opt/cni/bin]')

    def _status_entry(self, interface: PodInterface) -> dict:
        entry = {
            "name": interface.network,
            "interface": interface.name,
            "ips": [str(a.ip) for a in interface.addresses],
            "mac": interface.mac,
            "dns": {},
        }
        if not interface.addresses:
            del entry["ips"]
        if interface.vf is not None:
            vf = interface.vf.vf
            entry["device-info"] = {
                "type": "pci",
                "version": "1.1.0",
                "pci": {
                    "pci-address": vf.pci,
                    "rdma-device": vf.rdma_device,
                    "pf-pci-address": vf.rail.pci,
                },
            }
        return entry

    def teardown(self, pod_key: str, node: str | None) -> None:
        for ip_range, podref, ifname in self._reservations.pop(pod_key, []):
            self.whereabouts.release(ip_range, podref, ifname)
        if node:
            self.pod_cidrs.release(node, pod_key)


def _plugin_conf(nad: dict, selection: NetworkSelection) -> dict:
    config = (nad.get("spec") or {}).get("config")
    where = f"({selection.name}) in namespace ({selection.namespace})"
    if not config:
        raise MultusError(
            "GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find "
            f"a network-attachment-definition config {where}: no spec.config and no CNI config "
            "file with that name"
        )
    try:
        conf = json.loads(config)
    except ValueError as error:
        raise MultusError(
            "GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: failed to "
            f"get the delegate {where}: error parsing configuration: {error}"
        ) from error
    if not isinstance(conf, dict):
        raise MultusError(
            "GetNetworkDelegates: failed getting the delegate: "
            f"getKubernetesDelegate: invalid network configuration {where}"
        )
    if isinstance(conf.get("plugins"), list) and conf["plugins"]:
        first = dict(conf["plugins"][0])
        first.setdefault("name", conf.get("name"))
        return first
    return conf
