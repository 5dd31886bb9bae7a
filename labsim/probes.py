"""Probe tools inside lab pods, computed from the fabric (labsim.fabric) and the faults:
`ping` (iputils), `ib_write_bw` (perftest), `rping` (librdmacm-utils) and `mlnx_qos`
(mlnx-tools), with the real tools' output formats and exit codes, plus the node agent
(`python -m agent`, labsim.node_agent). Scripts that use them run in labsim.probe_shell.

- ping: replies when source and target ports are up and on one rail (or the fabric routes
  between rails); an on-link target that does not answer gives "Destination Host Unreachable"
  errors; with `-M do`, a packet larger than the interface's MTU is a local error and one larger
  than a switch port's MTU (or the receiver's) is lost.
- ib_write_bw / rping: a server (no host argument) listens on its port until a client comes
  (or its `timeout`); a client reaches it over the fabric. RDMA writes fail (transport retry
  counter exceeded, status 12) when either PF does not trust DSCP or a switch port's MTU is
  below the RoCE frame; rping's few small messages still pass. Bandwidth is the slower port's
  speed (half_speed halves one), halved again when `--use_cuda` pairs a GPU with a VF on the
  other NUMA node (numa_mismatch), as GPUDirect across the socket interconnect does.
- mlnx_qos -i <if>: the PF's trust state and PFC configuration behind a VF.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import math
import re
from dataclasses import dataclass

from labsim import execsim
from labsim.execsim import ExecResult, PodView
from labsim.node_agent import NodeAgents
from labsim.probe_shell import Shell

PROBE_PROGRAMS = ("ping", "ib_write_bw", "rping", "mlnx_qos", "python", "python3")
_SHELL_NEEDS = re.compile(
    r"\b(?:ping|ib_write_bw|rping|mlnx_qos|python3?|sleep|timeout|wait|for)\b|(?<!&)&(?!&)|>"
)
RDMA_FRAME_BYTES = 4096 + 58  # RoCEv2: a 4096-byte RDMA MTU plus Ethernet, IP, UDP, BTH headers
BW_EFFICIENCY = 0.982  # what ib_write_bw reaches of the line rate with 64 KiB messages
RPING_PATTERN = "".join(chr(c) for c in range(65, 123))


@dataclass
class Endpoint:
    pod: str  # namespace/name
    node: str
    interface: object  # labsim.cni.PodInterface
    rail: int | None
    node_index: int = 0
    group: int = 0

    @property
    def address(self):
        return self.interface.addresses[0] if self.interface.addresses else None


@dataclass
class _PingSource:
    endpoint: Endpoint
    ip: str | None
    network: int
    netmask: int
    node_index: int
    group: int


def _variant_rtts(count: int, scale: float, spine: float, variant: int) -> list[float]:
    return [
        scale * (0.85 + 0.3 * ((variant * 2654435761 ^ n * 40503) & 0xFFFF) / 65536) + spine
        for n in range(count)
    ]


@contextlib.contextmanager
def _collector_paused():
    """A sweep makes hundreds of thousands of short-lived strings: with a big lab in memory,
    the cyclic collector's full passes over it would cost more than the sweep itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _ipv4_int(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3:
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


@dataclass
class Listener:
    pod: str
    view: PodView
    device: str
    cuda: int | None
    future: asyncio.Future


def _fraction(*numbers: int) -> float:
    value = 0
    for number in numbers:
        value = (value * 1_000_003 + number) & 0xFFFFFFFF
    value = (value * 2654435761) & 0xFFFFFFFF
    return value / 2**32


class Probes:
    def __init__(self, lab):
        self.lab = lab
        self.listeners: dict[tuple[str, int, str], Listener] = {}
        self._index: dict[str, Endpoint] = {}
        self._index_version = -1
        self._ports: dict[tuple[str, int], object] = {}
        self._ports_version = -1
        self._ping_options: dict[tuple, object] = {}
        self._tails: dict[tuple, list[str]] = {}
        self._detached: set[asyncio.Task] = set()
        self._node_index = {node.name: node.index for node in lab.spec.nodes}
        self._pods = lab.registry.by_key("", "pods")
        self.agents = NodeAgents(lab)
        lab.store.subscribe(self._on_change)

    def _on_change(self, resource, event) -> None:
        if resource is self._pods and event.type == "DELETED":
            metadata = event.entry.obj["metadata"]
            self.forget_pod(f"{metadata.get('namespace', '')}/{metadata['name']}")

    # Dispatch ----------------------------------------------------------------------------

    @staticmethod
    def handles(command: list[str]) -> bool:
        if not command:
            return False
        program = command[0].rsplit("/", 1)[-1]
        if program in PROBE_PROGRAMS or program in ("sleep", "timeout"):
            return True
        if program in ("sh", "bash", "ash") and len(command) >= 3 and command[1] == "-c":
            return bool(_SHELL_NEEDS.search(command[2]))
        return False

    async def run(self, command: list[str], view: PodView) -> ExecResult:
        """Run an exec command: probe scripts here, everything else as labsim.execsim does."""
        if not self.handles(command):
            return execsim.run_command(command, view)
        with _collector_paused():
            return await self._run(command, view)

    async def _run(self, command: list[str], view: PodView) -> ExecResult:
        program = command[0].rsplit("/", 1)[-1]
        shell = Shell(
            program,
            lambda words: self.program(words, view, program),
            self._detach,
            lambda prefix, items: self._batch(prefix, items, view),
        )
        if program in ("sh", "bash", "ash"):
            return await shell.run(command[2])
        result = shell.builtin(command)
        return await result if asyncio.iscoroutine(result) else result

    def _batch(self, prefix: list[str], items: list[str], view: PodView) -> ExecResult | None:
        if prefix[0].rsplit("/", 1)[-1] == "ping" and items:
            return self.ping_batch(prefix[1:], items, view)
        return None

    def _detach(self, task: asyncio.Task) -> None:
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    def program(self, words: list[str], view: PodView, shell: str):
        name, args = words[0].rsplit("/", 1)[-1], words[1:]
        if name == "ping":
            return self.ping(args, view)
        if name == "ib_write_bw":
            return self.ib_write_bw(args, view)
        if name == "rping":
            return self.rping(args, view)
        if name == "mlnx_qos":
            return self.mlnx_qos(args, view)
        if name in ("python", "python3"):
            return self.agents.run(name, args, view)
        result = execsim.run_command(words, view)
        if result.exit_code == 127 and "executable file not found" in result.stderr:
            return ExecResult(stderr=f"{shell}: 1: {words[0]}: not found\n", exit_code=127)
        return result

    async def close(self) -> None:
        for task in list(self._detached):
            task.cancel()
        for listener in self.listeners.values():
            if not listener.future.done():
                listener.future.cancel()
        self.listeners.clear()
        await self.agents.close()

    def forget_pod(self, pod_key: str) -> None:
        """The pod's processes end with it: its servers stop listening."""
        for key in [key for key in self.listeners if key[0] == pod_key]:
            listener = self.listeners.pop(key)
            if not listener.future.done():
                listener.future.cancel()

    # Where addresses live ----------------------------------------------------------------

    def index(self) -> dict[str, Endpoint]:
        """Every pod interface address -> its endpoint (rebuilt when pods changed)."""
        version = self.lab.store.rv
        if version != self._index_version:
            index: dict[str, Endpoint] = {}
            for key, runtime in self.lab.kubelet.runtimes.items():
                for interface in runtime.interfaces:
                    rail = interface.vf.vf.rail.index if interface.vf is not None else None
                    endpoint = Endpoint(
                        key,
                        runtime.node,
                        interface,
                        rail,
                        self._node_index.get(runtime.node, 0),
                        self._group(runtime.node),
                    )
                    for address in interface.addresses:
                        index.setdefault(str(address.ip), endpoint)
            self._index, self._index_version = index, version
        return self._index

    def _fresh_ports(self) -> dict:
        if self._ports_version != self.lab.fabric.generation:
            self._ports.clear()
            self._ports_version = self.lab.fabric.generation
        return self._ports

    def port(self, node: str, rail: int):
        self._fresh_ports()
        key = (node, rail)
        if key not in self._ports:
            self._ports[key] = self.lab.fabric.port(node, rail)
        return self._ports[key]

    def _own(self, view: PodView, interface) -> Endpoint:
        metadata = view.pod["metadata"]
        rail = interface.vf.vf.rail.index if interface.vf is not None else None
        return Endpoint(
            f"{metadata.get('namespace', '')}/{metadata['name']}",
            (view.pod.get("spec") or {}).get("nodeName", ""),
            interface,
            rail,
        )

    def _link_up(self, endpoint: Endpoint) -> bool:
        if endpoint.rail is None:
            return True
        port = self.port(endpoint.node, endpoint.rail)
        return port is None or port.up

    def _reaches(self, source: Endpoint, target: Endpoint) -> bool:
        """Do IP packets get from source to target over the rails (ignoring size)?"""
        if source.rail is None or target.rail is None:
            return source.rail is None and target.rail is None
        if not (self._link_up(source) and self._link_up(target)):
            return False
        return source.rail == target.rail or self.lab.fabric.routes_between_rails()

    def _path_mtu(self, source: Endpoint, target: Endpoint) -> int:
        limits = [target.interface.mtu]
        for endpoint in (source, target):
            if endpoint.rail is not None:
                port = self.port(endpoint.node, endpoint.rail)
                if port is not None:
                    limits.append(port.port_mtu)
        return min(limits)

    # ping ----------------------------------------------------------------------------------

    def ping(self, args: list[str], view: PodView) -> ExecResult:
        if not args or args[-1].startswith("-"):
            return _ping_usage()
        result = self.ping_batch(args[:-1], args[-1:], view)
        if result.stderr.endswith("Name or service not known\n"):
            result.exit_code = 2
        return result

    def ping_batch(self, option_args: list[str], targets: list[str], view: PodView) -> ExecResult:
        """`for ip in ...; do ping <options> $ip & done`: every ping at once, one output each
        (iputils writes its buffered summary when it exits, so they do not interleave). The
        exit code is 0 when every ping got replies (a shell would report none of them)."""
        key = tuple(option_args)
        options = self._ping_options.get(key)
        if options is None:
            options = _parse_ping(option_args)
            if len(self._ping_options) > 256:
                self._ping_options.clear()
            self._ping_options[key] = options
        if isinstance(options, ExecResult):
            return ExecResult(options.stdout * len(targets), options.stderr * len(targets), 2)
        source = self._ping_source(view, options.bind)
        if isinstance(source, ExecResult):
            return ExecResult(source.stdout * len(targets), source.stderr * len(targets), 2)
        own = source.endpoint
        index = self.index()
        own_down = own.rail is not None and not self._link_up(own)
        too_big = options.pmtu == "do" and options.size + 28 > own.interface.mtu
        check_size = options.pmtu == "do"
        count, size, quiet = options.count, options.size, options.quiet
        spec = self.lab.fabric.spec
        interval_ms = (count - 1) * options.interval * 1000
        leaf_tails = self._rtt_tails(count, interval_ms, spec.rtt_us / 1000, 0.0)
        spine_tails = self._rtt_tails(
            count, interval_ms, spec.rtt_us / 1000, spec.spine_rtt_us / 1000
        )
        seed_base = source.node_index * 73856093 ^ (own.rail or 0) * 83492791
        own_rail = own.rail
        ports = self._fresh_ports()
        if options.bind and source.ip is not None:
            head_tail = (
                f"from {source.ip} {options.bind_label}: {size}({size + 28}) bytes of data.\n"
            )
        else:
            head_tail = f"{size}({size + 28}) bytes of data.\n"
        out: list[str] = []
        err: list[str] = []
        failures = 0
        for text in targets:
            target = index.get(text)
            outcome = 0  # 0 lost, 1 error, 2 reply, 3 local
            if own_down:
                outcome = 1
            elif too_big:
                outcome = 3
            elif target is not None:
                if target.pod == own.pod:
                    outcome = 2
                elif target.rail == own_rail and own_rail is not None:
                    port = ports.get((target.node, own_rail)) or self.port(target.node, own_rail)
                    if port is None or port.up:
                        fits = not check_size or size + 28 <= self._path_mtu(own, target)
                        outcome = 2 if fits else 0
                    else:
                        outcome = 1  # on-link: its ARP goes unanswered
                elif self._reaches(own, target):
                    fits = not check_size or size + 28 <= self._path_mtu(own, target)
                    outcome = 2 if fits else 0
            if outcome == 0 and (target is None or not self._reaches(own, target)):
                target_int = _ipv4_int(text)
                if target_int is None:
                    err.append(f"ping: {text}: Name or service not known\n")
                    failures += 1
                    continue
                on_link = (target_int & source.netmask) == source.network and source.ip
                if on_link or (own.rail is not None and options.bind):
                    outcome = 1  # ARP goes unanswered (bound to a rail: the kernel tries on-link)
            if outcome == 2:
                seed = seed_base ^ target.node_index * 19349663
                variant = (seed ^ seed >> 11) & 1023
                if target.pod == own.pod:
                    tail = self._rtt_tails(count, interval_ms, 0.012, 0.0)[variant]
                elif target.group != source.group:
                    tail = spine_tails[variant]
                else:
                    tail = leaf_tails[variant]
                if quiet:
                    out.append(
                        f"PING {text} ({text}) {head_tail}\n--- {text} ping statistics ---\n{tail}"
                    )
                    continue
                scale, spine = (
                    (0.012, 0.0)
                    if target.pod == own.pod
                    else (
                        spec.rtt_us / 1000,
                        spec.spine_rtt_us / 1000 * (target.group != source.group),
                    )
                )
                lines = "".join(
                    f"{size + 8} bytes from {text}: icmp_seq={n + 1} ttl=64 time={rtt:.3f} ms\n"
                    for n, rtt in enumerate(_variant_rtts(count, scale, spine, variant))
                )
                out.append(
                    f"PING {text} ({text}) {head_tail}{lines}\n--- {text} ping statistics ---\n{tail}"
                )
                continue
            head = f"PING {text} ({text}) {head_tail}"
            failures += 1
            body, errors = "", ""
            if outcome in (1, 3):
                errors = f", +{count} errors"
            if outcome == 3:
                err.append(
                    f"ping: local error: message too long, mtu={own.interface.mtu}\n" * count
                )
            elif outcome == 1 and not quiet and source.ip is not None:
                body = "".join(
                    f"From {source.ip} icmp_seq={n} Destination Host Unreachable\n"
                    for n in range(1, count + 1)
                )
            elapsed = int(interval_ms + (options.deadline or options.wait) * 500)
            out.append(
                f"{head}{body}\n--- {text} ping statistics ---\n"
                f"{count} packets transmitted, 0 received{errors}, 100% packet loss, "
                f"time {elapsed}ms\n"
            )
        return ExecResult("".join(out), "".join(err), 1 if failures else 0)

    def _rtt_tails(self, count: int, interval_ms: float, scale: float, spine: float) -> list[str]:
        """1,024 statistics endings of a ping that got every reply, with RTTs around `scale`
        ms (+ `spine`), computed once: a pair's RTTs are picked from them by a hash of it."""
        key = (count, interval_ms, scale, spine)
        tails = self._tails.get(key)
        if tails is None:
            tails = []
            for variant in range(1024):
                rtts = _variant_rtts(count, scale, spine, variant)
                mean = sum(rtts) / count
                mdev = math.sqrt(max(sum(r * r for r in rtts) / count - mean * mean, 0.0))
                tails.append(
                    f"{count} packets transmitted, {count} received, 0% packet loss, "
                    f"time {int(interval_ms + rtts[-1])}ms\n"
                    f"rtt min/avg/max/mdev = {min(rtts):.3f}/{mean:.3f}/{max(rtts):.3f}/{mdev:.3f} ms\n"
                )
            self._tails[key] = tails
        return tails

    def _ping_source(self, view: PodView, bind: str | None):
        """Where pings of this exec leave from, worked out once per exec and interface."""
        cache = view.__dict__.setdefault("_ping_sources", {})
        found = cache.get(bind)
        if found is None:
            interface, error = _source_interface(view, bind)
            if error:
                found = error
            else:
                endpoint = self._own(view, interface)
                address = endpoint.address
                network = address.network if address is not None else None
                found = _PingSource(
                    endpoint=endpoint,
                    ip=str(address.ip) if address is not None else None,
                    network=int(network.network_address) if network else 0,
                    netmask=int(network.netmask) if network else 0,
                    node_index=self._node_index.get(endpoint.node, 0),
                    group=self._group(endpoint.node),
                )
            cache[bind] = found
        return found

    def _group(self, node: str) -> int:
        return self.lab.fabric.group(node) if node in self._node_index else 0

    # RDMA ----------------------------------------------------------------------------------

    def _rdma_interface(self, view: PodView, device: str):
        if not view.rdma_visible:
            return None
        for interface in view.interfaces:
            if interface.vf is not None and interface.vf.vf.rdma_device == device:
                return interface
        return None

    def _numa_factor(self, view: PodView, interface, cuda: int | None) -> float:
        if cuda is None or cuda >= len(view.gpus):
            return 1.0
        return 1.0 if view.gpus[cuda].numa == interface.vf.numa else 0.5

    def _data_path_fault(self, source: Endpoint, target: Endpoint) -> str | None:
        """Why RDMA writes between two ports fail, when they do (None: they pass)."""
        for endpoint in (source, target):
            port = self.port(endpoint.node, endpoint.rail)
            if port is not None and port.trust != "dscp":
                return "trust"
        if min(source.interface.mtu, target.interface.mtu) >= 4200:
            path = self._path_mtu(source, target)
            if path < RDMA_FRAME_BYTES:
                return "mtu"
        return None

    def ib_write_bw(self, args: list[str], view: PodView):
        options = _parse_perftest(args)
        if isinstance(options, ExecResult):
            return options
        interface = self._rdma_interface(view, options.device)
        if interface is None:
            return ExecResult(
                stderr=f" Couldn't get context for the device {options.device}\n"
                " Unable to find the Infiniband/RoCE device\n"
                if view.rdma_visible
                else " No IB devices found\n Unable to find the Infiniband/RoCE device\n",
                exit_code=1,
            )
        if options.cuda is not None and options.cuda >= len(view.gpus):
            return ExecResult(
                _cuda_lines(view, options.cuda),
                f"No CUDA device {options.cuda} (found {len(view.gpus)})\n"
                " Couldn't allocate memory\n",
                exit_code=1,
            )
        if options.host is None:
            return self._bw_server(options, view, interface)
        return self._bw_client(options, view, interface)

    async def _bw_server(self, options, view: PodView, interface) -> ExecResult:
        own = self._own(view, interface)
        key = (own.pod, options.port, "ib_write_bw")
        if key in self.listeners:
            return ExecResult(
                stderr=f" Couldn't listen to port {options.port}\n"
                " Unable to open file descriptor for socket connection\n",
                exit_code=1,
            )
        future = asyncio.get_running_loop().create_future()
        listener = Listener(own.pod, view, options.device, options.cuda, future)
        self.listeners[key] = listener
        try:
            outcome = await future
        finally:
            if self.listeners.get(key) is listener:
                del self.listeners[key]
        text = _cuda_lines(view, options.cuda) + _WAITING + _bw_header(options, interface)
        if outcome["ok"]:
            text += _bw_addresses(own.address, outcome["peer"]) + _bw_result(
                options, outcome["gbps"]
            )
            return ExecResult(text)
        return ExecResult(text, _completion_error("server"), exit_code=1)

    def _bw_client(self, options, view: PodView, interface) -> ExecResult:
        own = self._own(view, interface)
        target = self.index().get(options.host)
        prefix = _cuda_lines(view, options.cuda)
        if target is None or not self._reaches(own, target):
            return ExecResult(
                prefix,
                "Failed to handle RDMA CM event: RDMA_CM_EVENT_ADDR_ERROR\n"
                " Unable to perform rdma_client function\n"
                " Unable to init the socket connection\n"
                if options.rdma_cm
                else f"Couldn't connect to {options.host}:{options.port}\n"
                " Unable to open file descriptor for socket connection\n"
                " Unable to init the socket connection\n",
                exit_code=1,
            )
        listener = self.listeners.pop((target.pod, options.port, "ib_write_bw"), None)
        if listener is None or listener.future.done():
            return ExecResult(
                prefix,
                "Failed to handle RDMA CM event: RDMA_CM_EVENT_REJECTED\n"
                " Unable to perform rdma_client function\n"
                " Unable to init the socket connection\n"
                if options.rdma_cm
                else f"Couldn't connect to {options.host}:{options.port}\n"
                " Unable to open file descriptor for socket connection\n"
                " Unable to init the socket connection\n",
                exit_code=1,
            )
        server_interface = self._rdma_interface(listener.view, listener.device)
        server = self._own(listener.view, server_interface)
        text = prefix + _bw_header(options, interface) + _bw_addresses(own.address, server.address)
        fault = self._data_path_fault(own, server)
        if fault is not None:
            listener.future.set_result({"ok": False, "peer": own.address})
            return ExecResult(text, _completion_error("client"), exit_code=1)
        speeds = [self.port(e.node, e.rail).speed_gbps for e in (own, server)]
        factor = min(
            self._numa_factor(view, interface, options.cuda),
            self._numa_factor(listener.view, server_interface, listener.cuda),
        )
        a = self._node_index.get(own.node, 0)
        b = self._node_index.get(server.node, 0)
        jitter = 1 + 0.006 * (_fraction(a, b, own.rail or 0, options.port) - 0.5)
        gbps = min(speeds) * BW_EFFICIENCY * factor * jitter
        listener.future.set_result({"ok": True, "gbps": gbps, "peer": own.address})
        return ExecResult(text + _bw_result(options, gbps))

    def rping(self, args: list[str], view: PodView):
        options = _parse_rping(args)
        if isinstance(options, ExecResult):
            return options
        if not view.rdma_visible:
            return ExecResult(stderr="rdma_create_event_channel: No such device\n", exit_code=255)
        if options.server:
            return self._rping_server(options, view)
        own_interface, target = None, self.index().get(options.address)
        for interface in view.interfaces:
            if interface.vf is not None and any(
                ipaddress.ip_address(options.address) in a.network for a in interface.addresses
            ):
                own_interface = interface
        if own_interface is None or target is None:
            return ExecResult(
                stderr="cma event RDMA_CM_EVENT_ADDR_ERROR, error -19\n"
                "waiting for addr/route resolution state 1\n",
                exit_code=255,
            )
        own = self._own(view, own_interface)
        if not self._reaches(own, target):
            return ExecResult(
                stderr="cma event RDMA_CM_EVENT_ROUTE_ERROR, error -110\n"
                "waiting for addr/route resolution state 1\n",
                exit_code=255,
            )
        listener = self.listeners.pop((target.pod, options.port, "rping"), None)
        if listener is None or listener.future.done():
            return ExecResult(
                stderr="cma event RDMA_CM_EVENT_REJECTED, error 8\n"
                "wait for CONNECTED state 4\nconnect error -1\n",
                exit_code=255,
            )
        listener.future.set_result({"ok": True, "count": options.count})
        lines = (
            [f"ping data: {_rping_data(i)}\n" for i in range(options.count)]
            if options.verbose
            else []
        )
        return ExecResult("".join(lines) + "client DISCONNECT EVENT...\n")

    async def _rping_server(self, options, view: PodView) -> ExecResult:
        pod = f"{view.pod['metadata'].get('namespace', '')}/{view.pod['metadata']['name']}"
        addresses = {str(a.ip) for i in view.interfaces for a in i.addresses}
        if options.address not in ("0.0.0.0", *addresses):
            return ExecResult(
                stderr="rdma_bind_addr: Cannot assign requested address\n", exit_code=255
            )
        key = (pod, options.port, "rping")
        if key in self.listeners:
            return ExecResult(stderr="rdma_bind_addr: Address already in use\n", exit_code=255)
        future = asyncio.get_running_loop().create_future()
        listener = Listener(pod, view, "", None, future)
        self.listeners[key] = listener
        try:
            outcome = await future
        finally:
            if self.listeners.get(key) is listener:
                del self.listeners[key]
        count = outcome["count"] if not options.count else min(options.count, outcome["count"])
        lines = (
            [f"server ping data: {_rping_data(i)}\n" for i in range(count)]
            if options.verbose
            else []
        )
        return ExecResult(
            "".join(lines) + "server DISCONNECT EVENT...\nwait for RDMA_READ_ADV state 10\n"
        )

    def mlnx_qos(self, args: list[str], view: PodView) -> ExecResult:
        if len(args) < 2 or args[0] != "-i":
            return ExecResult(
                stderr="Usage: mlnx_qos -i <interface> [options]\n"
                "mlnx_qos: error: Interface name is required\n",
                exit_code=2,
            )
        name = args[1]
        interface = next((i for i in view.interfaces if i.name == name), None)
        if interface is None:
            return ExecResult(stderr=f"Netlink error: No such device {name}\n", exit_code=1)
        if interface.vf is None:
            return ExecResult(stderr="Netlink error: Operation not supported\n", exit_code=1)
        own = self._own(view, interface)
        port = self.port(own.node, own.rail)
        return ExecResult(_qos_report(port.trust if port else "dscp"))


# Options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PingOptions:
    count: int = 4
    interval: float = 1.0
    wait: float = 10.0
    deadline: float = 0.0
    bind: str | None = None
    bind_label: str = ""
    pmtu: str = "want"
    size: int = 56
    quiet: bool = False


_PING_FLAGS = {"n", "q", "4", "v", "D", "A", "U", "O"}
_PING_VALUES = {"c", "i", "W", "w", "I", "M", "s", "t", "Q", "l"}


def _ping_usage() -> ExecResult:
    return ExecResult(stderr="\nUsage\n  ping [options] <destination>\n", exit_code=2)


def _parse_ping(args: list[str]):
    values: dict[str, str] = {}
    flags: set[str] = set()
    position = 0
    while position < len(args):
        arg = args[position]
        if not arg.startswith("-") or len(arg) < 2:
            return _ping_usage()
        letters = arg[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in _PING_FLAGS:
                flags.add(letter)
            elif letter in _PING_VALUES:
                if not letters:
                    position += 1
                    if position >= len(args):
                        return ExecResult(
                            stderr=f"ping: option requires an argument -- '{letter}'\n", exit_code=2
                        )
                    letters = args[position]
                values[letter] = letters
                letters = ""
            else:
                return ExecResult(
                    stderr=f"ping: invalid option -- '{letter}'\n\nUsage\n  ping [options] <destination>\n",
                    exit_code=2,
                )
        position += 1
    try:
        count = int(values.get("c", "0"))
        interval = float(values.get("i", "1"))
        wait = float(values.get("W", "10"))
        deadline = float(values.get("w", "0"))
        size = int(values.get("s", "56"))
    except ValueError as error:
        return ExecResult(stderr=f"ping: invalid argument: {error}\n", exit_code=2)
    if count <= 0:
        count = int(deadline / interval) + 1 if deadline else 4
    if "c" in values and int(values["c"]) <= 0:
        return ExecResult(
            stderr=f"ping: invalid argument: '{values['c']}': out of range: 1 <= value <= 9223372036854775807\n",
            exit_code=2,
        )
    pmtu = values.get("M", "want")
    if pmtu not in ("do", "dont", "want", "probe"):
        return ExecResult(stderr=f"ping: invalid -M argument: {pmtu}\n", exit_code=2)
    if not 0 <= size <= 65507:
        return ExecResult(
            stderr=f"ping: invalid argument: '{size}': out of range: 0 <= value <= 65507\n",
            exit_code=2,
        )
    bind = values.get("I")
    return PingOptions(
        count=min(count, 100),
        interval=interval,
        wait=wait,
        deadline=deadline,
        bind=bind,
        bind_label=bind if bind and not _is_ip(bind) else "",
        pmtu=pmtu,
        size=size,
        quiet="q" in flags,
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _source_interface(view: PodView, bind: str | None):
    if bind is None:
        return next((i for i in view.interfaces if i.name == "eth0"), view.interfaces[0]), None
    if _is_ip(bind):
        for interface in view.interfaces:
            if any(str(a.ip) == bind for a in interface.addresses):
                return interface, None
        return None, ExecResult(stderr="ping: bind: Cannot assign requested address\n", exit_code=2)
    for interface in view.interfaces:
        if interface.name == bind:
            return interface, None
    return None, ExecResult(stderr=f"ping: SO_BINDTODEVICE {bind}: No such device\n", exit_code=2)


@dataclass(frozen=True)
class PerftestOptions:
    device: str = ""
    port: int = 18515
    duration: float = 0.0
    size: int = 65536
    gbits: bool = False
    rdma_cm: bool = False
    cuda: int | None = None
    host: str | None = None
    qps: int = 1


_PERFTEST_VALUES = {
    "-d": "d", "--ib-dev": "d", "-p": "p", "--port": "p", "-D": "D", "--duration": "D",
    "-s": "s", "--size": "s", "-q": "q", "--qp": "q", "-x": "x", "--gid-index": "x",
    "-n": "n", "--iters": "n", "-m": "m", "--mtu": "m",
}  # fmt: skip
_PERFTEST_FLAGS = ("-R", "--rdma_cm", "-F", "--CPU-freq", "--report_gbits", "-a", "--all")


def _parse_perftest(args: list[str]):
    values: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg.startswith("--use_cuda"):
            _, _, value = arg.partition("=")
            if not value:
                position += 1
                value = args[position] if position < len(args) else ""
            values["cuda"] = value
        elif arg in _PERFTEST_VALUES:
            position += 1
            if position >= len(args):
                return ExecResult(stderr=f" option '{arg}' requires an argument\n", exit_code=1)
            values[_PERFTEST_VALUES[arg]] = args[position]
        elif arg in _PERFTEST_FLAGS:
            flags.add(arg)
        elif arg.startswith("-"):
            return ExecResult(stderr=f"ib_write_bw: unrecognized option '{arg}'\n", exit_code=1)
        else:
            positional.append(arg)
        position += 1
    try:
        options = PerftestOptions(
            device=values.get("d", ""),
            port=int(values.get("p", 18515)),
            duration=float(values.get("D", 0)),
            size=int(values.get("s", 65536)),
            gbits="--report_gbits" in flags,
            rdma_cm=bool({"-R", "--rdma_cm"} & flags),
            cuda=int(values["cuda"]) if "cuda" in values else None,
            host=positional[0] if positional else None,
            qps=int(values.get("q", 1)),
        )
    except ValueError as error:
        return ExecResult(stderr=f" Invalid argument: {error}\n", exit_code=1)
    if not options.device:
        return ExecResult(stderr=" No IB device name given (-d)\n", exit_code=1)
    return options


@dataclass(frozen=True)
class RpingOptions:
    server: bool
    address: str
    port: int
    count: int
    verbose: bool


def _parse_rping(args: list[str]):
    server = client = verbose = False
    address, port, count = "", 7174, 0
    position = 0
    try:
        while position < len(args):
            arg = args[position]
            if arg == "-s":
                server = True
            elif arg == "-c":
                client = True
            elif arg in ("-v", "-V"):
                verbose = verbose or arg == "-v"
            elif arg in ("-a", "-p", "-C", "-S", "-I"):
                position += 1
                value = args[position]
                if arg == "-a":
                    address = value
                elif arg == "-p":
                    port = int(value)
                elif arg == "-C":
                    count = int(value)
            elif arg in ("-d", "-P", "-q"):
                pass
            else:
                raise ValueError(arg)
            position += 1
    except (IndexError, ValueError):
        return ExecResult(
            stderr="usage: rping -s|-c [-vVd] [-S size] [-C count] [-a addr] [-p port]\n",
            exit_code=255,
        )
    if server == client or not address or not _is_ip(address):
        return ExecResult(
            stderr="usage: rping -s|-c [-vVd] [-S size] [-C count] [-a addr] [-p port]\n",
            exit_code=255,
        )
    return RpingOptions(server, address, port, count or 1, verbose)


# Output -------------------------------------------------------------------------------------


_RESULT_LINE = "-" * 87 + "\n"


def _cuda_lines(view: PodView, cuda: int | None) -> str:
    if cuda is None:
        return ""
    lines = ["initializing CUDA\n", "Listing all CUDA devices in system:\n"]
    for index, gpu in enumerate(view.gpus):
        bus = gpu.pci.split(":")[1].upper()
        lines.append(f"CUDA device {index}: PCIe address is {bus}:00\n")
    if cuda < len(view.gpus):
        model = view.gpus[cuda].model.replace("NVIDIA-", "NVIDIA ").replace("-", " ")
        lines += [
            f"\nPicking device No. {cuda}\n",
            f"[pid = 4242, dev = {cuda}] device name = [{model}]\n",
            "creating CUDA Ctx\nmaking it the current CUDA Ctx\n",
            "cuMemAlloc() of a 131072 bytes GPU buffer\n",
            "allocated GPU buffer address at 00007f3a6a000000 pointer=0x7f3a6a000000\n",
        ]
    return "".join(lines)


_WAITING = (
    "\n************************************\n"
    "* Waiting for client to connect... *\n"
    "************************************\n"
)


def _bw_header(options: PerftestOptions, interface) -> str:
    active_mtu = 4096 if interface.mtu >= 4200 else (2048 if interface.mtu >= 2100 else 1024)
    return (
        _RESULT_LINE
        + "                    RDMA_Write BW Test\n"
        + f" Dual-port       : OFF\t\tDevice         : {options.device}\n"
        + f" Number of qps   : {options.qps}\t\tTransport type : IB\n"
        + " Connection type : RC\t\tUsing SRQ      : OFF\n"
        + " PCIe relax order: ON\n"
        + " ibv_wr* API     : ON\n"
        + " TX depth        : 128\n"
        + " CQ Moderation   : 100\n"
        + f" Mtu             : {active_mtu}[B]\n"
        + " Link type       : Ethernet\n"
        + " GID index       : 3\n"
        + " Max inline data : 0[B]\n"
        + f" rdma_cm QPs\t : {'ON' if options.rdma_cm else 'OFF'}\n"
        + f" Data ex. method : {'rdma_cm' if options.rdma_cm else 'Ethernet'}\n"
        + _RESULT_LINE
    )


def _gid(address) -> str:
    octets = ":".join(f"{octet:02d}" for octet in address.ip.packed) if address else "00:00:00:00"
    return "00:00:00:00:00:00:00:00:00:00:255:255:" + octets


def _bw_addresses(local, remote) -> str:
    return (
        " local address: LID 0000 QPN 0x0128 PSN 0x9d1a4c\n"
        f" GID: {_gid(local)}\n"
        " remote address: LID 0000 QPN 0x0129 PSN 0x3e02f1\n"
        f" GID: {_gid(remote)}\n" + _RESULT_LINE
    )


def _bw_result(options: PerftestOptions, gbps: float) -> str:
    seconds = options.duration or 1.0
    iterations = int(gbps * 1e9 / 8 * seconds / options.size)
    rate = gbps * 1e9 / 8 / options.size / 1e6
    if options.gbits:
        head = " #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n"
        average = gbps
    else:
        head = " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"
        average = gbps * 1e9 / 8 / 2**20
    peak = 0.0 if options.duration else average * 1.001
    return (
        head
        + f" {options.size:<7}    {iterations:<10}       {peak:<7.2f}            {average:<7.2f}\t\t   {rate:<7.6f}\n"
        + _RESULT_LINE
    )


def _completion_error(side: str) -> str:
    return (
        f" Completion with error at {side}\n"
        " Failed status 12: wr_id 0 syndrom 0x81\n"
        "scnt=128, ccnt=0\n"
        " Failed to complete run_iter_bw function successfully\n"
    )


def _rping_data(index: int) -> str:
    prefix = f"rdma-ping-{index}: "
    length = 64 - len(prefix) - 1
    start = index % len(RPING_PATTERN)
    pattern = (RPING_PATTERN * 3)[start : start + length]
    return prefix + pattern


def _qos_report(trust: str) -> str:
    lines = ["DCBX mode: OS controlled\n", f"Priority trust state: {trust}\n"]
    if trust == "dscp":
        lines.append("dscp2prio mapping:\n")
        for priority in range(8):
            codes = ",".join(f"{priority * 8 + 7 - i:02d}" for i in range(8))
            lines.append(f"\tprio:{priority} dscp:{codes},\n")
    lines += [
        "default priority:\n",
        "Receive buffer size (bytes): 20016,156096,0,0,0,0,0,0,total_size=1027728\n",
        "Cable len: 7\n",
        "PFC configuration:\n",
        "\tpriority    0   1   2   3   4   5   6   7\n",
    ]
    enabled = "1" if trust == "dscp" else "0"
    lines.append(f"\tenabled     0   0   0   {enabled}   0   0   0   0   \n")
    lines.append(f"\tbuffer      0   0   0   {enabled}   0   0   0   0   \n")
    for tc in range(8):
        lines.append(f"tc: {tc} ratelimit: unlimited, tsa: vendor\n\t priority:  {tc}\n")
    return "".join(lines)
