"""Build a sysfs tree as the kernel lays it out: devices under devices/, netdevs under each
device's net/, class/net and bus/pci/devices as relative symlinks into it."""

import os
from pathlib import Path


def _write(directory: Path, **attributes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in attributes.items():
        if value is not None:
            (directory / name).write_text(f"{value}\n")


def pci_device(root: Path, pci: str, numa: int, **attributes) -> Path:
    directory = root / "devices" / "pci0000:00" / pci
    _write(directory, numa_node=numa, **attributes)
    link = root / "bus" / "pci" / "devices" / pci
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(os.path.relpath(directory, link.parent))
    return directory


def netdev(root: Path, name: str, pci: str | None, **attributes) -> Path:
    if pci is None:
        directory = root / "devices" / "virtual" / "net" / name
        _write(directory, **attributes)
    else:
        device = root / "devices" / "pci0000:00" / pci
        directory = device / "net" / name
        _write(directory, **attributes)
        (directory / "device").symlink_to(os.path.relpath(device, directory))
    link = root / "class" / "net" / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(directory, link.parent))
    return directory


def vf(root: Path, pf_pci: str, vf_pci: str, index: int, numa: int, rdma: str | None) -> Path:
    pf = pci_device(root, pf_pci, numa, sriov_totalvfs=8, sriov_numvfs=8)
    device = pci_device(root, vf_pci, numa)
    (device / "physfn").symlink_to(os.path.relpath(pf, device))
    (pf / f"virtfn{index}").symlink_to(os.path.relpath(device, pf))
    if rdma:
        (device / "infiniband" / rdma).mkdir(parents=True)
    return device
