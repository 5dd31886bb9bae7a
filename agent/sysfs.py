"""Network devices as sysfs shows them: PF or VF, PCI address, NUMA node, link state and speed,
MTU, MAC and RDMA devices. The root is configurable (`/sys` in a container), so a test or the
lab can point it at a tree it built.

Inside a pod, /sys/class/net lists the pod's own network namespace: eth0 and the VFs Multus
moved in (net1..net8). A VF's link state and speed follow its PF's port.
"""

from __future__ import annotations

import os
import re

MAX_NETDEVS = 256
MAX_FILE_BYTES = 4096
_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def _read(path: str) -> str | None:
    """A sysfs attribute's text, or None when it is missing or unreadable (EINVAL: e.g. the
    speed of a link that is down)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _pci_of(path: str) -> str | None:
    """The PCI address a device symlink points at: its target's last path element (sysfs
    links are relative, e.g. ../../../0000:18:00.2)."""
    try:
        name = os.path.basename(os.readlink(path).rstrip("/"))
    except OSError:
        name = ""
    if not _PCI_ADDRESS.match(name):  # a link written some other way: resolve it
        if not os.path.isdir(path):
            return None
        name = os.path.basename(os.path.realpath(path))
    return name if _PCI_ADDRESS.match(name) else None


def _vf_index(pf_dir: str, vf_pci: str) -> int | None:
    try:
        entries = os.listdir(pf_dir)
    except OSError:
        return None
    for entry in entries:
        if entry.startswith("virtfn") and _pci_of(os.path.join(pf_dir, entry)) == vf_pci:
            return _int(entry.removeprefix("virtfn"))
    return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def read_netdev(root: str, name: str) -> dict:
    base = os.path.join(root, "class", "net", name)
    device = os.path.join(base, "device")
    pci = _pci_of(device)
    speed = _int(_read(os.path.join(base, "speed")))
    carrier = _read(os.path.join(base, "carrier"))
    netdev = {
        "name": name,
        "mac": _read(os.path.join(base, "address")),
        "mtu": _int(_read(os.path.join(base, "mtu"))),
        "operstate": _read(os.path.join(base, "operstate")),
        "carrier": None if carrier is None else carrier == "1",
        "speed_mbps": speed if speed is not None and speed > 0 else None,
        "pci": pci,
        "kind": "other",
        "numa_node": None,
        "pf_pci": None,
        "vf_index": None,
        "rdma_devices": [],
        "sriov_numvfs": None,
        "sriov_totalvfs": None,
    }
    if pci is None:
        return netdev
    numa = _int(_read(os.path.join(device, "numa_node")))
    netdev["numa_node"] = numa if numa is not None and numa >= 0 else None
    netdev["rdma_devices"] = _listdir(os.path.join(device, "infiniband"))
    physfn = os.path.join(device, "physfn")
    if os.path.islink(physfn):
        netdev["kind"] = "vf"
        netdev["pf_pci"] = _pci_of(physfn)
        netdev["vf_index"] = _vf_index(physfn, pci)
    else:
        total = _int(_read(os.path.join(device, "sriov_totalvfs")))
        if total is not None:
            netdev["kind"] = "pf"
            netdev["sriov_totalvfs"] = total
            netdev["sriov_numvfs"] = _int(_read(os.path.join(device, "sriov_numvfs")))
    return netdev


def read_netdevs(root: str = "/sys") -> list[dict]:
    """Every network device under <root>/class/net (at most MAX_NETDEVS), loopback left out."""
    names = [n for n in _listdir(os.path.join(root, "class", "net")) if n != "lo"]
    return [read_netdev(root, name) for name in names[:MAX_NETDEVS]]
