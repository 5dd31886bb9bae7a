"""Rail Studio's node agent (agent/) running inside lab pods, for real: `python -m agent` in a
container that runs the agent reads a sysfs tree built from the pod's interfaces (what /sys
shows inside the pod: eth0 and the VFs, their PCI devices, NUMA nodes, PFs, link state, speed
and MTU) and, when the pod mounts the kubelet's /var/lib/kubelet/pod-resources, calls a real
gRPC PodResources server for the pod's node on a unix socket (one per node, started when first
needed, the least recently used stopped beyond MAX_SERVERS)."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
from collections import OrderedDict
from concurrent import futures

import grpc

from agent import cli as agent_cli
from agent.podresources_v1 import api_pb2, api_pb2_grpc
from labsim.execsim import ExecResult, PodView, environment
from labsim.spec import GPU_RESOURCE

MAX_SERVERS = 1024  # one per node of a big lab; each is a socket and a polling thread
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"


class _Lister(api_pb2_grpc.PodResourcesListerServicer):
    """The kubelet's PodResources service for one node; `response` is set from the lab's event
    loop before each agent run, so the gRPC threads never read the lab's state."""

    def __init__(self):
        self.response = api_pb2.ListPodResourcesResponse()

    def List(self, request, context):
        return self.response


class _NodeServer:
    def __init__(self, socket_path: str, executor):
        self.lister = _Lister()
        self.socket_path = socket_path
        self.server = grpc.server(executor)
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(self.lister, self.server)
        self.server.add_insecure_port(f"unix://{socket_path}")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(None)


def _write(path: str, value) -> None:
    with open(path, "w") as handle:
        handle.write(f"{value}\n")


def _link(target: str, link: str) -> None:
    """A relative link through the target's parent, ending in its name, as the kernel writes
    sysfs links (../../../0000:18:00.2)."""
    parent = os.path.relpath(os.path.dirname(target), os.path.dirname(link))
    os.symlink(os.path.join(parent, os.path.basename(target)), link)


def write_sysfs(root: str, netdevs: list[dict]) -> None:
    """A sysfs tree as the kernel lays it out (devices/, class/net and bus/pci/devices as
    relative symlinks) for the given netdevs (see NodeAgents._netdevs)."""
    class_net = os.path.join(root, "class", "net")
    bus = os.path.join(root, "bus", "pci", "devices")
    os.makedirs(class_net)
    os.makedirs(bus)
    pci_root = os.path.join(root, "devices", "pci0000:00")
    for netdev in netdevs:
        if netdev["vf_pci"] is None:
            directory = os.path.join(root, "devices", "virtual", "net", netdev["name"])
            os.makedirs(directory)
        else:
            pf = os.path.join(pci_root, netdev["pf_pci"])
            if not os.path.isdir(pf):
                os.makedirs(pf)
                _write(os.path.join(pf, "numa_node"), netdev["pf_numa"])
                _write(os.path.join(pf, "sriov_totalvfs"), netdev["total_vfs"])
                _write(os.path.join(pf, "sriov_numvfs"), netdev["total_vfs"])
                _link(pf, os.path.join(bus, netdev["pf_pci"]))
            device = os.path.join(pci_root, netdev["vf_pci"])
            os.makedirs(os.path.join(device, "infiniband", netdev["rdma"]))
            _write(os.path.join(device, "numa_node"), netdev["numa"])
            _link(pf, os.path.join(device, "physfn"))
            _link(device, os.path.join(pf, f"virtfn{netdev['vf_index']}"))
            _link(device, os.path.join(bus, netdev["vf_pci"]))
            directory = os.path.join(device, "net", netdev["name"])
            os.makedirs(directory)
            _link(device, os.path.join(directory, "device"))
        _write(os.path.join(directory, "address"), netdev["mac"])
        _write(os.path.join(directory, "mtu"), netdev["mtu"])
        _write(os.path.join(directory, "operstate"), "up" if netdev["up"] else "down")
        _write(os.path.join(directory, "carrier"), 1 if netdev["up"] else 0)
        _write(os.path.join(directory, "speed"), netdev["speed"])
        _link(directory, os.path.join(class_net, netdev["name"]))


class NodeAgents:
    def __init__(self, lab):
        self.lab = lab
        self._root: str | None = None
        self._servers: OrderedDict[str, _NodeServer] = OrderedDict()
        self._executor = futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="kubelet")

    # What the container sees -------------------------------------------------------------

    @staticmethod
    def runs_agent(view: PodView) -> bool:
        container = next(
            (c for c in view.pod["spec"].get("containers") or [] if c["name"] == view.container),
            {},
        )
        words = [*(container.get("command") or []), *(container.get("args") or [])]
        return "agent" in words and any(w.rsplit("/", 1)[-1].startswith("python") for w in words)

    @staticmethod
    def pod_resources_mount(view: PodView) -> str | None:
        """Where the container mounts the kubelet's pod-resources directory, if it does."""
        spec = view.pod["spec"]
        volumes = {
            volume["name"]
            for volume in spec.get("volumes") or []
            if ((volume.get("hostPath") or {}).get("path") or "").rstrip("/") == POD_RESOURCES_DIR
        }
        container = next(c for c in spec.get("containers") or [] if c["name"] == view.container)
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") in volumes:
                return mount["mountPath"].rstrip("/")
        return None

    def _netdevs(self, view: PodView) -> list[dict]:
        node = view.pod["spec"].get("nodeName", "")
        netdevs = []
        for interface in view.interfaces:
            entry = {"name": interface.name, "mac": interface.mac, "mtu": interface.mtu,
                     "up": True, "speed": 10000, "vf_pci": None}  # fmt: skip
            if interface.vf is not None:
                vf = interface.vf.vf
                port = self.lab.fabric.port(node, vf.rail.index)
                up = port is None or port.up
                speed = int(port.speed_gbps * 1000) if port is not None else 400000
                entry.update(
                    up=up,
                    speed=speed if up else -1,
                    vf_pci=vf.pci,
                    pf_pci=vf.rail.pci,
                    pf_numa=vf.rail.numa,
                    numa=interface.vf.numa,
                    rdma=vf.rdma_device,
                    vf_index=vf.vf_index,
                    total_vfs=vf.rail.vfs,
                )
            netdevs.append(entry)
        return netdevs

    def pod_resources(self, node: str) -> api_pb2.ListPodResourcesResponse:
        """What the node's kubelet answers to List: every pod on the node with the devices each
        container got (GPUs by UUID, VFs by PCI address) and their NUMA nodes."""
        pods_type = self.lab.registry.by_key("", "pods")
        response = api_pb2.ListPodResourcesResponse()
        on_node = [(k, r) for k, r in self.lab.kubelet.runtimes.items() if r.node == node]
        for key, runtime in sorted(on_node, key=lambda item: item[0]):
            namespace, _, name = key.partition("/")
            entry = self.lab.store.get(pods_type, namespace, name)
            if entry is None:
                continue
            pod = response.pod_resources.add(name=name, namespace=namespace)
            given: set[str] = set()
            for container in entry.obj["spec"].get("containers") or []:
                resources = pod.containers.add(name=container["name"])
                limits = (container.get("resources") or {}).get("limits") or {}
                devices = runtime.devices
                if devices is None:
                    continue
                if GPU_RESOURCE in limits and devices.gpus and GPU_RESOURCE not in given:
                    given.add(GPU_RESOURCE)
                    for gpu in devices.gpus:
                        resources.devices.add(
                            resource_name=GPU_RESOURCE,
                            device_ids=[gpu.uuid],
                            topology=api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=gpu.numa)]),
                        )
                for resource, allocated in devices.vfs.items():
                    if resource not in limits or resource in given:
                        continue
                    given.add(resource)
                    for vf in allocated:
                        resources.devices.add(
                            resource_name=resource,
                            device_ids=[vf.vf.pci],
                            topology=api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=vf.numa)]),
                        )
        return response

    def _server(self, node: str) -> _NodeServer:
        server = self._servers.pop(node, None)
        if server is None:
            index = next(n.index for n in self.lab.spec.nodes if n.name == node)
            directory = os.path.join(self._workdir(), f"kubelet-{index}")
            os.makedirs(directory, exist_ok=True)
            server = _NodeServer(os.path.join(directory, "kubelet.sock"), self._executor)
        self._servers[node] = server
        while len(self._servers) > MAX_SERVERS:
            _, oldest = self._servers.popitem(last=False)
            oldest.stop()
        return server

    def _workdir(self) -> str:
        """Sockets and sysfs trees live in memory (/dev/shm) where there is one: a tree is
        written for every agent run, and a busy disk makes each file cost milliseconds."""
        if self._root is None:
            memory = "/dev/shm"
            base = memory if os.path.isdir(memory) and os.access(memory, os.W_OK) else None
            self._root = tempfile.mkdtemp(prefix="labsim-node-", dir=base)
        return self._root

    # Running it ----------------------------------------------------------------------------

    async def run(self, program: str, args: list[str], view: PodView) -> ExecResult:
        if not self.runs_agent(view):
            return ExecResult(
                stderr=f"OCI runtime exec failed: exec failed: unable to start container "
                f'process: exec: "{program}": executable file not found in $PATH: unknown\r\n',
                exit_code=127,
            )
        if args[:2] != ["-m", "agent"]:
            return ExecResult(
                stderr=f"labsim: only `{program} -m agent ...` runs in the lab's agent container\n",
                exit_code=2,
            )
        argv = list(args[2:])
        if "--idle" in argv:  # the container's main process: it never returns
            await asyncio.Event().wait()
        node = view.pod["spec"].get("nodeName", "")
        sys_root = os.path.join(tempfile.mkdtemp(dir=self._workdir()), "sys")
        netdevs = self._netdevs(view)
        socket = os.path.join(self._workdir(), "no-such-socket")
        mount = self.pod_resources_mount(view)
        if mount is not None:
            server = self._server(node)
            server.lister.response = self.pod_resources(node)
            socket = os.path.dirname(server.socket_path)
        translated = _translate(argv, sys_root, mount, socket)
        environ = dict(environment(view))
        return await asyncio.to_thread(_invoke, sys_root, netdevs, translated, environ)

    async def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def _translate(argv: list[str], sys_root: str, mount: str | None, socket_dir: str) -> list[str]:
    """Container paths to the lab's: /sys is the pod's tree; the pod-resources mount is the
    node's socket directory; anything else does not exist."""

    def host_path(path: str) -> str:
        if path == "/sys" or path.startswith("/sys/"):
            return sys_root + path[len("/sys") :]
        if mount and (path == mount or path.startswith(mount + "/")):
            return socket_dir + path[len(mount) :]
        return os.path.join(socket_dir, "absent", path.lstrip("/"))

    translated = []
    defaults = {"--sys": "/sys", "--pod-resources": f"{POD_RESOURCES_DIR}/kubelet.sock"}
    position = 0
    while position < len(argv):
        arg = argv[position]
        name, equals, value = arg.partition("=")
        if name in defaults and equals:
            translated.append(f"{name}={host_path(value)}")
            defaults.pop(name)
        elif name in defaults and position + 1 < len(argv):
            translated += [name, host_path(argv[position + 1])]
            defaults.pop(name)
            position += 1
        else:
            translated.append(arg)
        position += 1
    for name, path in defaults.items():
        translated += [name, host_path(path)]
    return translated


def _invoke(sys_root: str, netdevs: list[dict], argv: list[str], environ: dict) -> ExecResult:
    try:
        write_sysfs(sys_root, netdevs)
        stdout, stderr = io.StringIO(), io.StringIO()
        code = agent_cli.main(argv, environ=environ, stdout=stdout, stderr=stderr)
        return ExecResult(stdout.getvalue(), stderr.getvalue(), code)
    finally:
        shutil.rmtree(os.path.dirname(sys_root), ignore_errors=True)
