"""Commands run inside a lab pod: what `ip`, `ibv_devinfo`, `env`, `cat /sys/...` would print.

Anything else exits 127, as a missing executable does.
"""

import ipaddress
import json
import shlex
from dataclasses import dataclass

from labsim.cni import PodInterface

FOREVER = 4294967295
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class ExecResult:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


@dataclass
class PodView:
    """What the container can see: its pod, interfaces, devices and capabilities."""

    pod: dict
    container: str
    interfaces: list[PodInterface]
    capabilities: set[str]
    gpus: list
    vfs: dict  # resource -> [AllocatedVf]

    @property
    def rdma_visible(self) -> bool:
        return "IPC_LOCK" in self.capabilities


def run_command(command: list[str], view: PodView) -> ExecResult:
    if not command:
        return ExecResult(stderr="command is required\n", exit_code=1)
    program = command[0].rsplit("/", 1)[-1]
    if program in ("sh", "bash", "ash") and len(command) >= 3 and command[1] == "-c":
        return _run_shell(command[2], view, program)
    handler = _PROGRAMS.get(program)
    if handler is None:
        return ExecResult(
            stderr=f"OCI runtime exec failed: exec failed: unable to start container process: "
            f'exec: "{command[0]}": executable file not found in $PATH: unknown\r\n',
            exit_code=127,
        )
    return handler(command[1:], view)


def _run_shell(script: str, view: PodView, shell: str) -> ExecResult:
    result = ExecResult()
    for sequence in script.split(";"):
        for part in sequence.split("&&"):
            try:
                words = shlex.split(part)
            except ValueError:
                return ExecResult(
                    stderr=f"{shell}: 1: Syntax error: Unterminated quoted string\n", exit_code=2
                )
            if not words:
                continue
            program = words[0].rsplit("/", 1)[-1]
            handler = _PROGRAMS.get(program)
            if handler is None:
                step = ExecResult(stderr=f"{shell}: 1: {words[0]}: not found\n", exit_code=127)
            else:
                step = handler(words[1:], view)
            result.stdout += step.stdout
            result.stderr += step.stderr
            result.exit_code = step.exit_code
            if step.exit_code != 0:
                break
    return result


# ip ---------------------------------------------------------------------------------------


@dataclass
class _Link:
    index: int
    name: str  # as printed, e.g. eth0@if12
    ifname: str
    kind: str  # loopback / ether
    flags: list[str]
    state: str
    mtu: int
    mac: str
    addresses: list  # ip_interface
    link_index: int = 0


def _link_local(mac: str) -> str:
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups) + "/64"


def _links(view: PodView) -> list[_Link]:
    links = [
        _Link(
            1,
            "lo",
            "lo",
            "loopback",
            ["LOOPBACK", "UP", "LOWER_UP"],
            "UNKNOWN",
            65536,
            "00:00:00:00:00:00",
            [ipaddress.ip_interface("127.0.0.1/8"), ipaddress.ip_interface("::1/128")],
        )
    ]
    for position, interface in enumerate(view.interfaces, start=2):
        addresses = list(interface.addresses)
        if addresses or interface.vf is not None or interface.link_index:
            addresses.append(ipaddress.ip_interface(_link_local(interface.mac)))
        if interface.vf is not None:
            vf = interface.vf.vf
            index = 20 + vf.rail.index * 32 + vf.vf_index
        else:
            index = position
        name = (
            f"{interface.name}@if{interface.link_index}"
            if interface.link_index
            else (interface.name)
        )
        links.append(
            _Link(
                index,
                name,
                interface.name,
                "ether",
                ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
                "UP",
                interface.mtu,
                interface.mac,
                addresses,
                interface.link_index,
            )
        )
    return links


def _ip(args: list[str], view: PodView) -> ExecResult:
    brief = json_output = False
    family = None
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0).lstrip("-")
        if option in ("br", "brief"):
            brief = True
        elif option in ("j", "json"):
            json_output = True
        elif option == "4":
            family = 4
        elif option == "6":
            family = 6
        elif option in ("c", "color", "d", "details", "p", "pretty", "s", "stats"):
            continue
        else:
            return ExecResult(
                stderr=f'Option "-{option}" is unknown, try "ip -help".\n', exit_code=255
            )
    if not rest:
        return ExecResult(stderr="Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n", exit_code=255)
    obj = rest.pop(0)
    if rest and rest[0] in ("show", "list", "ls"):
        rest.pop(0)
    if rest and rest[0] == "dev":
        rest.pop(0)
    links = _links(view)
    if rest:
        wanted = rest[0]
        links = [link for link in links if link.ifname == wanted]
        if not links:
            return ExecResult(stderr=f'Device "{wanted}" does not exist.\n', exit_code=1)
    if obj in ("a", "addr", "address"):
        if family:
            for link in links:
                link.addresses = [a for a in link.addresses if a.version == family]
        if json_output:
            return ExecResult(
                json.dumps([_addr_json(link) for link in links], separators=(",", ":")) + "\n"
            )
        if brief:
            return ExecResult("".join(_brief_addr(link) for link in links))
        return ExecResult("".join(_full_addr(link) for link in links))
    if obj in ("l", "link"):
        if json_output:
            return ExecResult(
                json.dumps([_link_json(link) for link in links], separators=(",", ":")) + "\n"
            )
        if brief:
            return ExecResult(
                "".join(
                    f"{link.name:<16} {link.state:<14} {link.mac} <{','.join(link.flags)}> \n"
                    for link in links
                )
            )
        return ExecResult("".join(_full_link(link) for link in links))
    if obj in ("r", "route"):
        return ExecResult(_routes(view))
    return ExecResult(stderr=f'Object "{obj}" is unknown, try "ip help".\n', exit_code=1)


def _brief_addr(link: _Link) -> str:
    addresses = "".join(f"{a} " for a in link.addresses)
    return f"{link.name:<16} {link.state:<14} {addresses}\n"


def _link_header(link: _Link) -> str:
    qdisc = "noqueue" if link.kind == "loopback" or link.link_index else "mq"
    return (
        f"{link.index}: {link.name}: <{','.join(link.flags)}> mtu {link.mtu} qdisc {qdisc} "
        f"state {link.state} group default qlen 1000\n"
    )


def _link_line(link: _Link) -> str:
    if link.kind == "loopback":
        return "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
    suffix = " link-netnsid 0" if link.link_index else ""
    return f"    link/ether {link.mac} brd ff:ff:ff:ff:ff:ff{suffix}\n"


def _full_link(link: _Link) -> str:
    return _link_header(link) + _link_line(link)


def _full_addr(link: _Link) -> str:
    lines = [_link_header(link), _link_line(link)]
    for address in link.addresses:
        scope = _scope(address)
        if address.version == 4:
            label = f" {link.ifname}"
            lines.append(f"    inet {address} scope {scope}{label}\n")
        else:
            lines.append(f"    inet6 {address} scope {scope} \n")
        lines.append("       valid_lft forever preferred_lft forever\n")
    return "".join(lines)


def _scope(address) -> str:
    if address.ip.is_loopback:
        return "host"
    if address.ip.is_link_local:
        return "link"
    return "global"


def _link_json(link: _Link) -> dict:
    data = {"ifindex": link.index, "ifname": link.ifname}
    if link.link_index:
        data["link_index"] = link.link_index
    data.update(
        {
            "flags": link.flags,
            "mtu": link.mtu,
            "qdisc": "noqueue" if link.kind == "loopback" or link.link_index else "mq",
            "operstate": link.state,
            "linkmode": "DEFAULT",
            "group": "default",
            "txqlen": 1000,
            "link_type": link.kind,
            "address": link.mac,
            "broadcast": "00:00:00:00:00:00" if link.kind == "loopback" else "ff:ff:ff:ff:ff:ff",
        }
    )
    if link.link_index:
        data["link_netnsid"] = 0
    return data


def _addr_json(link: _Link) -> dict:
    data = _link_json(link)
    data.pop("linkmode")
    data["addr_info"] = []
    for address in link.addresses:
        info = {
            "family": "inet" if address.version == 4 else "inet6",
            "local": str(address.ip),
            "prefixlen": address.network.prefixlen,
            "scope": _scope(address),
        }
        if address.version == 4:
            info["label"] = link.ifname
        info.update({"valid_life_time": FOREVER, "preferred_life_time": FOREVER})
        data["addr_info"].append(info)
    return data


def _routes(view: PodView) -> str:
    lines = []
    for interface in view.interfaces:
        for address in interface.addresses:
            if address.version != 4:
                continue
            if interface.name == "eth0" and address.network.prefixlen == 32:
                lines.insert(0, "default via 169.254.1.1 dev eth0 \n")
                lines.append("169.254.1.1 dev eth0 scope link \n")
            elif interface.name == "eth0":
                gateway = address.network.network_address + 1
                lines.insert(0, f"default via {gateway} dev eth0 \n")
                lines.append(
                    f"{address.network} dev eth0 proto kernel scope link src {address.ip} \n"
                )
            else:
                lines.append(
                    f"{address.network} dev {interface.name} proto kernel scope link "
                    f"src {address.ip} \n"
                )
    return "".join(lines)


# RDMA -------------------------------------------------------------------------------------


def _rdma_devices(view: PodView) -> list:
    if not view.rdma_visible:
        return []
    devices = [a for allocated in view.vfs.values() for a in allocated]
    return sorted(devices, key=lambda a: int(a.vf.rdma_device.rsplit("_", 1)[-1]))


def _ibv_devinfo(args: list[str], view: PodView) -> ExecResult:
    devices = _rdma_devices(view)
    if "-l" in args or "--list" in args:
        plural = "s" if len(devices) != 1 else ""
        body = "".join(f"\t{a.vf.rdma_device}\n" for a in devices)
        return ExecResult(f"{len(devices)} HCA{plural} found:\n{body}\n")
    if "-d" in args or "--ib-dev" in args:
        flag = "-d" if "-d" in args else "--ib-dev"
        position = args.index(flag)
        wanted = args[position + 1] if position + 1 < len(args) else ""
        matching = [a for a in devices if a.vf.rdma_device == wanted]
        if not matching:
            return ExecResult(stderr=f"IB device '{wanted}' wasn't found\n", exit_code=255)
        devices = matching
    if not devices:
        return ExecResult(stderr="No IB devices found\n", exit_code=255)
    return ExecResult("".join(_hca_block(a) for a in devices))


def _hca_block(allocated) -> str:
    vf = allocated.vf
    guid_tail = f"{vf.rail.index:02x}{vf.vf_index:02x}"
    link_layer = "InfiniBand" if vf.rail.link_type.upper() == "IB" else "Ethernet"
    return (
        f"hca_id:\t{vf.rdma_device}\n"
        "\ttransport:\t\t\tInfiniBand (0)\n"
        "\tfw_ver:\t\t\t\t28.39.1002\n"
        f"\tnode_guid:\t\t\tb83f:d203:00{vf.rail.index:02x}:{guid_tail}\n"
        f"\tsys_image_guid:\t\t\tb83f:d203:00{vf.rail.index:02x}:0000\n"
        "\tvendor_id:\t\t\t0x02c9\n"
        "\tvendor_part_id:\t\t\t4126\n"
        "\thw_ver:\t\t\t\t0x0\n"
        "\tboard_id:\t\t\tNVD0000000033\n"
        "\tphys_port_cnt:\t\t\t1\n"
        "\t\tport:\t1\n"
        "\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n"
        "\t\t\tmax_mtu:\t\t4096 (5)\n"
        "\t\t\tactive_mtu:\t\t4096 (5)\n"
        "\t\t\tsm_lid:\t\t\t0\n"
        "\t\t\tport_lid:\t\t0\n"
        "\t\t\tport_lmc:\t\t0x00\n"
        f"\t\t\tlink_layer:\t\t{link_layer}\n\n"
    )


# env, cat, ls, misc ------------------------------------------------------------------------


def environment(view: PodView) -> list[tuple[str, str]]:
    pod = view.pod
    metadata = pod["metadata"]
    status = pod.get("status") or {}
    variables = [("PATH", _DEFAULT_PATH), ("HOSTNAME", metadata["name"])]
    container = next(
        (
            c
            for c in (pod.get("spec") or {}).get("containers") or []
            if c.get("name") == view.container
        ),
        {},
    )
    field_values = {
        "metadata.name": metadata["name"],
        "metadata.namespace": metadata.get("namespace", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
    }
    for item in container.get("env") or []:
        if "value" in item:
            variables.append((item["name"], str(item["value"])))
        elif (ref := (item.get("valueFrom") or {}).get("fieldRef")) and ref.get("fieldPath"):
            variables.append((item["name"], field_values.get(ref["fieldPath"], "")))
    limits = (container.get("resources") or {}).get("limits") or {}
    for resource, allocated in sorted(view.vfs.items()):
        if resource not in limits:
            continue
        variable = "PCIDEVICE_" + resource.upper().replace(".", "_").replace("/", "_")
        variables.append((variable, ",".join(a.vf.pci for a in allocated)))
        info = {}
        for a in allocated:
            number = a.vf.rdma_device.rsplit("_", 1)[-1]
            info[a.vf.pci] = {
                "generic": {"deviceID": a.vf.pci},
                "rdma": {
                    "issm": f"/dev/infiniband/issm{number}",
                    "rdma_cm": "/dev/infiniband/rdma_cm",
                    "rdma_dev": a.vf.rdma_device,
                    "umad": f"/dev/infiniband/umad{number}",
                    "uverbs": f"/dev/infiniband/uverbs{number}",
                },
            }
        variables.append((variable + "_INFO", json.dumps(info, separators=(",", ":"))))
    if view.gpus and "nvidia.com/gpu" in limits:
        variables.append(("NVIDIA_VISIBLE_DEVICES", ",".join(g.uuid for g in view.gpus)))
    variables += [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
        ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
        ("KUBERNETES_PORT_443_TCP_PORT", "443"),
        ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
        ("HOME", "/root"),
    ]
    return variables


def _env(args: list[str], view: PodView) -> ExecResult:
    return ExecResult("".join(f"{name}={value}\n" for name, value in environment(view)))


def _printenv(args: list[str], view: PodView) -> ExecResult:
    variables = dict(environment(view))
    if not args:
        return _env(args, view)
    values = [variables[name] for name in args if name in variables]
    return ExecResult(
        "".join(f"{v}\n" for v in values), exit_code=0 if len(values) == len(args) else 1
    )


def _files(view: PodView) -> dict[str, str]:
    files = {"/etc/hostname": view.pod["metadata"]["name"] + "\n"}
    for interface in view.interfaces:
        base = f"/sys/class/net/{interface.name}"
        files[f"{base}/address"] = interface.mac + "\n"
        files[f"{base}/mtu"] = f"{interface.mtu}\n"
        files[f"{base}/operstate"] = "up\n"
        if interface.vf is not None:
            files[f"{base}/device/numa_node"] = f"{interface.vf.numa}\n"
            files[f"{base}/device/uevent"] = (
                f"DRIVER=mlx5_core\nPCI_CLASS=20000\nPCI_ID=15B3:101E\n"
                f"PCI_SLOT_NAME={interface.vf.vf.pci}\n"
            )
    for allocated in _rdma_devices(view):
        base = f"/sys/class/infiniband/{allocated.vf.rdma_device}"
        files[f"{base}/device/numa_node"] = f"{allocated.numa}\n"
    return files


def _cat(args: list[str], view: PodView) -> ExecResult:
    files = _files(view)
    result = ExecResult()
    for path in args:
        if path in files:
            result.stdout += files[path]
        else:
            result.stderr += f"cat: {path}: No such file or directory\n"
            result.exit_code = 1
    return result


def _ls(args: list[str], view: PodView) -> ExecResult:
    paths = [a for a in args if not a.startswith("-")] or ["."]
    listings = {
        "/sys/class/net": ["lo", *[i.name for i in view.interfaces]],
        "/sys/class/infiniband": [a.vf.rdma_device for a in _rdma_devices(view)],
        "/dev/infiniband": ["rdma_cm"]
        + [f"uverbs{a.vf.rdma_device.rsplit('_', 1)[-1]}" for a in _rdma_devices(view)],
    }
    result = ExecResult()
    for path in paths:
        entries = listings.get(path.rstrip("/"))
        if entries is None or (path.rstrip("/") == "/dev/infiniband" and not view.rdma_visible):
            result.stderr += f"ls: cannot access '{path}': No such file or directory\n"
            result.exit_code = 2
        else:
            result.stdout += "".join(f"{entry}\n" for entry in sorted(entries))
    return result


def _nvidia_smi(args: list[str], view: PodView) -> ExecResult:
    if not view.gpus:
        return ExecResult("No devices were found\n", exit_code=6)
    if args[:1] in (["-L"], ["--list-gpus"]):
        return ExecResult(
            "".join(
                f"GPU {i}: {gpu.model.replace('NVIDIA-', 'NVIDIA ').replace('-', ' ')} "
                f"(UUID: {gpu.uuid})\n"
                for i, gpu in enumerate(view.gpus)
            )
        )
    if args[:2] == ["topo", "-m"]:
        return ExecResult(_topology(view))
    return ExecResult(
        stderr="labsim: only `nvidia-smi -L` and `nvidia-smi topo -m` are simulated\n", exit_code=2
    )


def _topology(view: PodView) -> str:
    nics = (
        _rdma_devices(view)
        if view.rdma_visible
        else [a for allocated in view.vfs.values() for a in allocated]
    )
    header = [f"GPU{i}" for i in range(len(view.gpus))] + [f"NIC{i}" for i in range(len(nics))]
    lines = ["\t" + "\t".join(header) + "\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"]
    numas = [g.numa for g in view.gpus] + [n.numa for n in nics]
    for row, numa in enumerate(numas):
        cells = [
            "X" if col == row else ("NODE" if other == numa else "SYS")
            for col, other in enumerate(numas)
        ]
        label = header[row]
        tail = (
            f"\t\t{numa}\t\t{numa if row < len(view.gpus) else 'N/A'}"
            if row < len(view.gpus)
            else ""
        )
        lines.append(f"{label}\t" + "\t".join(cells) + tail + "\n")
    lines.append("\nNIC Legend:\n\n")
    lines += [f"  NIC{i}: {n.vf.rdma_device}\n" for i, n in enumerate(nics)]
    return "".join(lines)


def _echo(args: list[str], view: PodView) -> ExecResult:
    return ExecResult(" ".join(args) + "\n")


def _hostname(args: list[str], view: PodView) -> ExecResult:
    return ExecResult(view.pod["metadata"]["name"] + "\n")


_PROGRAMS = {
    "ip": _ip,
    "ibv_devinfo": _ibv_devinfo,
    "env": _env,
    "printenv": _printenv,
    "cat": _cat,
    "ls": _ls,
    "nvidia-smi": _nvidia_smi,
    "echo": _echo,
    "hostname": _hostname,
    "true": lambda args, view: ExecResult(),
    "false": lambda args, view: ExecResult(exit_code=1),
}
