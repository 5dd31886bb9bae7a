"""What Multus writes on a pod: the network-status annotation, read leniently (either key, any
version), with each interface's device info."""

from __future__ import annotations

import orjson

from planner import manifests
from planner.podfacts import normal_pci as _pci

NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"


NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"


LEGACY_NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/networks-status"  # Multus before 3.x


RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"


DEFAULT_GPU_RESOURCE = manifests.DEFAULT_GPU_RESOURCE


TERMINAL_PHASES = ("Succeeded", "Failed")


RDMA_CNI_TYPES = ("sriov", "ib-sriov", "host-device")


def parse_network_status(value, namespace: str | None = None) -> list[dict]:
    """The elements of a `k8s.v1.cni.cncf.io/network-status` value, normalised:

    {"name": "ns/nad", "interface", "ips" (bare addresses), "mac", "mtu", "default" (bool),
     "gateway" (list), "device_info": {"type", "pci_address", "rdma_device", "pf_pci_address"}
     or None}

    Accepts every variant Multus and the spec produce: names with or without the namespace
    (given `namespace`, a bare non-default name becomes `namespace/name`), IPs bare or in CIDR
    form, `gateway` or `default-route`, a single object instead of a list. Never raises: an
    unreadable value gives [] (`read_network_status` also says why)."""
    return read_network_status(value, namespace)[0]


def read_network_status(value, namespace: str | None = None) -> tuple[list[dict], str | None]:
    """(entries, problem): problem is None when the value was read in full."""
    if value is None:
        return [], None
    raw = value
    if not isinstance(value, list | dict):
        text = str(value).strip()
        if not text:
            return [], None
        try:
            raw = orjson.loads(text)
        except ValueError as error:
            return [], f"not valid JSON ({error})"
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return [], "not a JSON list of attachments"
    entries = [_status_entry(item, namespace) for item in raw if _named(item)]
    skipped = len(raw) - len(entries)
    problem = f"{skipped} element(s) without a name were skipped" if skipped else None
    return entries, problem


def _named(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str) and bool(item["name"])


def _status_entry(item: dict, namespace: str | None) -> dict:
    get = item.get  # thousands of pods x rails: this runs for every attachment of every pod
    default = get("default") is True
    name = item["name"].strip()
    if namespace and not default and "/" not in name:
        name = f"{namespace}/{name}"
    ips = _strings(item["ips"] if "ips" in item else get("ip"))
    gateway = _strings(get("gateway")) or _strings(get("default-route"))
    mtu = get("mtu")
    device = get("device-info")
    return {
        "name": name,
        "interface": text_or_none(get("interface")),
        "ips": [ip.partition("/")[0].strip() for ip in ips],
        "mac": text_or_none(get("mac")),
        "mtu": mtu if type(mtu) is int else None,
        "default": default,
        "gateway": [gw.partition("/")[0].strip() for gw in gateway],
        "device_info": _device_info(device) if device is not None else None,
    }


def _strings(value) -> list[str]:
    if value is None:
        return []
    if type(value) is str:
        return [value] if value.strip() else []
    if type(value) is list:
        return [item for item in value if type(item) is str and item.strip()]
    return []


def text_or_none(value) -> str | None:
    return value.strip() or None if type(value) is str else None


def _device_info(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    device = value.get("pci") or value.get("vdpa") or value
    if not isinstance(device, dict):
        return None
    info = {
        "type": text_or_none(value.get("type")),
        "pci_address": _pci(device.get("pci-address")),
        "rdma_device": text_or_none(device.get("rdma-device")),
        "pf_pci_address": _pci(device.get("pf-pci-address")),
    }
    return info if any(info.values()) else None


def pci_bus(pci: str | None) -> str | None:
    return pci.rsplit(":", 1)[0] if pci else None
