"""Loading a lab spec (YAML or JSON) into plain dataclasses with every default filled in.

Layout (all keys optional except where noted)::

    name: seed
    kubernetes_version: v1.30.4
    pod_cidr: 10.100.0.0/16          # each node gets a /node_cidr_prefix slice
    node_cidr_prefix: 24
    default_network: {name: k8s-pod-network, plugin: calico}   # or plugin: flannel
    components: {multus: true, whereabouts: true, sriov_device_plugin: true}
    namespaces: [ai-training]
    node_defaults:
      cpu: "224"
      memory: 2063Gi
      pods: 110
      gpus: {count: 8, numa: [0,0,0,0,1,1,1,1], model: NVIDIA-H100-80GB-HBM3, pci: [...]}
      rails:                          # an int (that many default rails) or a list
        - {pf: enp24s0np0, pci: "0000:18:00.0", numa: 0, vfs: 8, rdma: mlx5_0,
           resource: nvidia.com/rail0_vf}
    nodes: 4                          # or {count: 4, name_prefix: gpu-node-}
                                      # or a list of names / {name: ..., <overrides>}
    objects: []                       # manifests created at start (NADs, pods, ...)
    fabric: {cross_rail: isolated, nodes_per_leaf: 32, port_mtu: 9216}   # see FabricSpec
    faults: {}                        # see labsim.faults
    timing: {schedule_delay_ms: 2, sandbox_delay_ms: 20, ...}
"""

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_NIC_PCI = (
    "0000:18:00.0",
    "0000:29:00.0",
    "0000:3a:00.0",
    "0000:5d:00.0",
    "0000:9a:00.0",
    "0000:ab:00.0",
    "0000:ba:00.0",
    "0000:db:00.0",
)
DEFAULT_GPU_PCI = (
    "0000:1b:00.0",
    "0000:43:00.0",
    "0000:52:00.0",
    "0000:61:00.0",
    "0000:9d:00.0",
    "0000:c3:00.0",
    "0000:d1:00.0",
    "0000:df:00.0",
)
DEFAULT_RAIL_RESOURCE = "nvidia.com/rail{index}_vf"
GPU_RESOURCE = "nvidia.com/gpu"


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class RailSpec:
    index: int
    pf: str
    pci: str
    numa: int
    vfs: int
    rdma: str
    resource: str
    link_type: str = "ETH"
    mtu: int = 9000
    link_speed: str = "400000 Mb/s"
    trust: str = "dscp"  # the PF's QoS trust state (mlnx_qos --trust): dscp or pcp

    @property
    def speed_gbps(self) -> float:
        """link_speed ("400000 Mb/s", as SriovNetworkNodeState reports it) in Gb/s."""
        return float(self.link_speed.split()[0]) / 1000


@dataclass(frozen=True)
class GpuSpec:
    index: int
    pci: str
    numa: int
    model: str


@dataclass(frozen=True)
class NodeSpec:
    name: str
    index: int
    cpu: str
    memory: str
    pods: int
    gpus: tuple[GpuSpec, ...]
    rails: tuple[RailSpec, ...]
    internal_ip: str
    pod_cidr: str
    labels: dict = field(default_factory=dict)

    @property
    def numa_nodes(self) -> int:
        numas = {gpu.numa for gpu in self.gpus} | {rail.numa for rail in self.rails}
        return max(2, max(numas, default=0) + 1)


@dataclass(frozen=True)
class DefaultNetworkSpec:
    name: str = "k8s-pod-network"
    plugin: str = "calico"

    @property
    def daemonset(self) -> str:
        return "calico-node" if self.plugin == "calico" else "kube-flannel-ds"


@dataclass(frozen=True)
class Components:
    multus: bool = True
    whereabouts: bool = True
    sriov_device_plugin: bool = True


@dataclass(frozen=True)
class Timing:
    schedule_delay_ms: float = 2
    sandbox_delay_ms: float = 20
    container_start_delay_ms: float = 5
    termination_delay_ms: float = 20
    sandbox_retry_seconds: float = 10


@dataclass(frozen=True)
class FabricSpec:
    """The rails' switches: per rail, a leaf switch for each group of `nodes_per_leaf` nodes
    (node i sits on leaf i // nodes_per_leaf, port Ethernet1/<i % nodes_per_leaf + 1>), joined
    by a spine. `cross_rail: isolated` is a rail-only fabric (a rail's interface reaches no other
    rail's subnet); `routed` lets the spine route between rails. Ports run at `port_speed_gbps`
    (the link comes up at the slower of port and NIC) with `port_mtu`; ICMP echo over a rail
    takes `rtt_us` between nodes on one leaf and `spine_rtt_us` more through the spine."""

    cross_rail: str = "isolated"
    nodes_per_leaf: int = 32
    leaf_name: str = "rail{rail}-leaf{group}"
    port_speed_gbps: float = 400
    port_mtu: int = 9216
    rtt_us: float = 24
    spine_rtt_us: float = 7


@dataclass(frozen=True)
class LabSpec:
    name: str
    kubernetes_version: str
    pod_cidr: str
    node_cidr_prefix: int
    default_network: DefaultNetworkSpec
    components: Components
    namespaces: tuple[str, ...]
    nodes: tuple[NodeSpec, ...]
    objects: tuple[dict, ...]
    faults: dict
    timing: Timing
    watch_history: int = 1000
    fabric: FabricSpec = field(default_factory=FabricSpec)

    def node(self, name: str) -> NodeSpec | None:
        return next((node for node in self.nodes if node.name == name), None)

    @property
    def rail_resources(self) -> list[str]:
        seen: dict[str, None] = {}
        for node in self.nodes:
            for rail in node.rails:
                seen.setdefault(rail.resource)
        return list(seen)


def load_spec(source: "str | Path | dict") -> LabSpec:
    """Load a spec from a path, a YAML/JSON string, or an already-parsed dict."""
    if isinstance(source, dict):
        raw = source
    else:
        path = Path(source)
        if not path.exists():
            raise SpecError(f"spec file not found: {path}")
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else _load_yaml(text)
    if not isinstance(raw, dict):
        raise SpecError("a lab spec must be a mapping")
    return build_spec(raw)


def _load_yaml(text: str):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        raise SpecError(f"spec is not valid YAML: {error}") from error


def build_spec(raw: dict) -> LabSpec:
    pod_cidr = str(raw.get("pod_cidr", "10.100.0.0/16"))
    node_prefix = int(raw.get("node_cidr_prefix", 24))
    node_defaults = raw.get("node_defaults") or {}
    node_entries = _node_entries(raw.get("nodes", 4))
    node_cidrs = _node_cidrs(pod_cidr, node_prefix, len(node_entries))
    nodes = tuple(
        _build_node(index, entry, node_defaults, node_cidrs[index])
        for index, entry in enumerate(node_entries)
    )
    names = [node.name for node in nodes]
    if len(set(names)) != len(names):
        raise SpecError("node names must be unique")
    network = raw.get("default_network") or {}
    plugin = network.get("plugin", "calico")
    if plugin not in ("calico", "flannel"):
        raise SpecError("default_network.plugin must be calico or flannel")
    objects = raw.get("objects") or []
    if not isinstance(objects, list) or not all(isinstance(obj, dict) for obj in objects):
        raise SpecError("objects must be a list of manifests")
    faults = raw.get("faults") or {}
    if not isinstance(faults, dict):
        raise SpecError("faults must be a mapping")
    return LabSpec(
        name=str(raw.get("name", "lab")),
        kubernetes_version=str(raw.get("kubernetes_version", "v1.30.4")),
        pod_cidr=pod_cidr,
        node_cidr_prefix=node_prefix,
        default_network=DefaultNetworkSpec(
            name=network.get("name", "k8s-pod-network" if plugin == "calico" else "cbr0"),
            plugin=plugin,
        ),
        components=Components(**_known(raw.get("components") or {}, Components, "components")),
        namespaces=tuple(str(name) for name in raw.get("namespaces") or ()),
        nodes=nodes,
        objects=tuple(objects),
        faults=faults,
        timing=Timing(**_known(raw.get("timing") or {}, Timing, "timing")),
        watch_history=int(raw.get("watch_history", 1000)),
        fabric=_fabric(raw.get("fabric") or {}),
    )


def _fabric(raw: dict) -> FabricSpec:
    if not isinstance(raw, dict):
        raise SpecError("fabric must be a mapping")
    fabric = FabricSpec(**_known(raw, FabricSpec, "fabric"))
    if fabric.cross_rail not in ("isolated", "routed"):
        raise SpecError("fabric.cross_rail must be isolated or routed")
    if fabric.nodes_per_leaf < 1 or fabric.port_speed_gbps <= 0 or fabric.port_mtu < 576:
        raise SpecError("fabric: nodes_per_leaf >= 1, port_speed_gbps > 0, port_mtu >= 576")
    return fabric


def _known(values: dict, cls, where: str) -> dict:
    allowed = set(cls.__dataclass_fields__)
    unknown = set(values) - allowed
    if unknown:
        raise SpecError(f"unknown keys in {where}: {', '.join(sorted(unknown))}")
    return values


def _node_entries(nodes) -> list[dict]:
    if isinstance(nodes, int):
        return [{"name": f"gpu-node-{index}"} for index in range(nodes)]
    if isinstance(nodes, dict):
        count = int(nodes.get("count", 1))
        prefix = nodes.get("name_prefix", "gpu-node-")
        overrides = nodes.get("overrides") or {}
        template = {
            k: v for k, v in nodes.items() if k not in ("count", "name_prefix", "overrides")
        }
        entries = []
        for index in range(count):
            name = f"{prefix}{index}"
            entries.append({**template, **(overrides.get(name) or {}), "name": name})
        return entries
    if isinstance(nodes, list):
        return [entry if isinstance(entry, dict) else {"name": str(entry)} for entry in nodes]
    raise SpecError("nodes must be a count, a mapping with count, or a list")


def _node_cidrs(pod_cidr: str, prefix: int, count: int) -> list[str]:
    try:
        network = ipaddress.ip_network(pod_cidr)
    except ValueError as error:
        raise SpecError(f"pod_cidr is not a CIDR: {pod_cidr}") from error
    if prefix < network.prefixlen:
        raise SpecError("node_cidr_prefix must be longer than the pod_cidr prefix")
    available = 2 ** (prefix - network.prefixlen)
    if count > available:
        raise SpecError(
            f"pod_cidr {pod_cidr} holds only {available} /{prefix} node ranges for {count} nodes"
        )
    subnets = network.subnets(new_prefix=prefix)
    return [str(next(subnets)) for _ in range(count)]


def _build_node(index: int, entry: dict, defaults: dict, pod_cidr: str) -> NodeSpec:
    merged = {**defaults, **entry}
    name = str(merged.get("name") or f"gpu-node-{index}")
    gpus = _build_gpus(merged.get("gpus", 8), name)
    rails = _build_rails(defaults.get("rails", 8), entry.get("rails"), name)
    return NodeSpec(
        name=name,
        index=index,
        cpu=str(merged.get("cpu", "224")),
        memory=str(merged.get("memory", "2063Gi")),
        pods=int(merged.get("pods", 110)),
        gpus=gpus,
        rails=rails,
        internal_ip=str(merged.get("internal_ip") or f"172.16.{index // 200}.{index % 200 + 10}"),
        pod_cidr=pod_cidr,
        labels=dict(merged.get("labels") or {}),
    )


def _build_gpus(value, node_name: str) -> tuple[GpuSpec, ...]:
    config = {"count": value} if isinstance(value, int) else dict(value or {})
    count = int(config.get("count", 8))
    numa = list(config.get("numa") or [0 if i < count / 2 else 1 for i in range(count)])
    pci = list(config.get("pci") or [])
    if len(numa) != count:
        raise SpecError(f"node {node_name}: gpus.numa needs {count} entries")
    model = str(config.get("model", "NVIDIA-H100-80GB-HBM3"))
    return tuple(
        GpuSpec(
            index=i,
            pci=pci[i] if i < len(pci) else _default_pci(DEFAULT_GPU_PCI, i, 0x60),
            numa=int(numa[i]),
            model=model,
        )
        for i in range(count)
    )


def _build_rails(defaults, overrides, node_name: str) -> tuple[RailSpec, ...]:
    base = [{} for _ in range(defaults)] if isinstance(defaults, int) else list(defaults or [])
    if isinstance(overrides, int):
        base = [{} for _ in range(overrides)]
    elif isinstance(overrides, list):
        by_index = {int(o.get("index", i)): o for i, o in enumerate(overrides)}
        count = max(len(base), max(by_index, default=-1) + 1)
        base = base + [{} for _ in range(count - len(base))]
        base = [{**base[i], **by_index.get(i, {})} for i in range(count)]
    rails = []
    count = len(base)
    for i, rail in enumerate(base):
        pci = rail.get("pci") or _default_pci(DEFAULT_NIC_PCI, i, 0x40)
        bus = int(pci.split(":")[1], 16)
        rails.append(
            RailSpec(
                index=i,
                pf=str(rail.get("pf") or f"enp{bus}s0np0"),
                pci=str(pci),
                numa=int(rail.get("numa", 0 if i < count / 2 else 1)),
                vfs=int(rail.get("vfs", 8)),
                rdma=str(rail.get("rdma") or f"mlx5_{i}"),
                resource=str(rail.get("resource") or DEFAULT_RAIL_RESOURCE.format(index=i)),
                link_type=str(rail.get("link_type", "ETH")),
                mtu=int(rail.get("mtu", 9000)),
                link_speed=str(rail.get("link_speed", "400000 Mb/s")),
                trust=str(rail.get("trust", "dscp")),
            )
        )
    for rail in rails:
        if rail.vfs < 0:
            raise SpecError(f"node {node_name}: rail {rail.index} vfs must be >= 0")
        if rail.trust not in ("dscp", "pcp"):
            raise SpecError(f"node {node_name}: rail {rail.index} trust must be dscp or pcp")
    return tuple(rails)


def _default_pci(defaults: tuple[str, ...], index: int, base_bus: int) -> str:
    if index < len(defaults):
        return defaults[index]
    return f"0000:{(base_bus + index) % 256:02x}:00.0"
