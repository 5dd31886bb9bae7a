"""Whereabouts IPAM: lowest free address of a range, recorded in IPPool objects.

Follows whereabouts' IterateForAssignment: walk from range_start (or network+1) to
range_end (or broadcast-1), skip reserved offsets, jump over excluded subnets, and reuse an
existing reservation of the same podref and ifname.
"""

import functools
import ipaddress
from dataclasses import dataclass, field

from labsim.meta import new_uid, now_rfc3339
from labsim.resources import IPPOOL_TYPE
from labsim.store import Store

EXHAUSTED_ID = "labsim-exhausted"
_POOL_FIELDS = [
    {
        "manager": "whereabouts",
        "operation": "Update",
        "apiVersion": IPPOOL_TYPE.api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {".": {}, "f:allocations": {}, "f:range": {}}},
    }
]


class IpamError(Exception):
    """An error whereabouts returns from ADD (wrapped later by SR-IOV CNI and Multus)."""


@dataclass(frozen=True)
class IpRange:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    first: int
    last: int
    excludes: tuple
    exclude_text: tuple[str, ...]
    network_name: str = ""

    @functools.cached_property
    def exclude_offsets(self) -> tuple[tuple[int, int], ...]:
        base = int(self.network.network_address)
        return tuple(
            (int(net.network_address) - base, int(net.broadcast_address) - base)
            for net in self.excludes
            if net.version == self.network.version
        )

    @functools.cached_property
    def pool_name(self) -> str:
        name = str(self.network).replace("/", "-").replace(":", "-")
        return f"{self.network_name}-{name}" if self.network_name else name

    def address(self, offset: int):
        return self.network.network_address + offset

    def assignment_error(self) -> IpamError:
        excludes = "[" + " ".join(self.exclude_text) + "]"
        return IpamError(
            f"Could not allocate IP in range: ip: {self.address(self.first)} / - "
            f"{self.address(self.last)} / range: {self.network} / excludeRanges: {excludes}"
        )


def parse_ranges(ipam: dict) -> list[IpRange]:
    entries = []
    if ipam.get("range"):
        entries.append(ipam)
    entries.extend(ipam.get("ipRanges") or [])
    if not entries:
        raise IpamError("invalid range: missing 'range' in whereabouts IPAM configuration")
    return [_parse_range(entry, str(ipam.get("network_name") or "")) for entry in entries]


def _parse_range(entry: dict, network_name: str) -> IpRange:
    text = str(entry.get("range", ""))
    start_text, end_text = entry.get("range_start"), entry.get("range_end")
    if "-" in text:
        span, _, prefix = text.partition("/")
        start_text, _, end_text = span.partition("-")
        text = f"{start_text}/{prefix}"
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise IpamError(f"invalid CIDR {text}: {error}") from error
    size = network.num_addresses
    if size <= 2:
        raise IpamError(
            f"net mask is too short, subnet {network} has no usable IP addresses, it is too small"
        )
    first, last = 1, size - 2
    base = int(network.network_address)
    if start_text:
        offset = int(ipaddress.ip_address(start_text)) - base
        if first <= offset <= last:
            first = offset
    if end_text:
        offset = int(ipaddress.ip_address(end_text)) - base
        if first <= offset <= last:
            last = offset
    excludes = []
    exclude_text = []
    for item in entry.get("exclude") or []:
        exclude_text.append(str(item))
        try:
            excludes.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError as error:
            raise IpamError(f'could not parse exclude range, err: "{error}"') from error
    return IpRange(network, first, last, tuple(excludes), tuple(exclude_text), network_name)


@dataclass
class _PoolIndex:
    resource_version: str
    used: dict[int, tuple[str, str]] = field(default_factory=dict)  # offset -> (podref, ifname)
    owners: dict[tuple[str, str], int] = field(default_factory=dict)
    # Per range walk: every offset below the hint is reserved or excluded.
    hints: dict[tuple, int] = field(default_factory=dict)

    def reserve(self, offset: int, owner: tuple[str, str]) -> None:
        self.used[offset] = owner
        self.owners[owner] = offset

    def free(self, offset: int) -> None:
        owner = self.used.pop(offset, None)
        if owner is not None and self.owners.get(owner) == offset:
            del self.owners[owner]
        for key, hint in self.hints.items():
            self.hints[key] = min(hint, offset)


class Whereabouts:
    def __init__(self, store: Store, namespace: str = "kube-system"):
        self.store = store
        self.namespace = namespace
        self._indexes: dict[str, _PoolIndex] = {}
        self.busy = False  # true while this allocator writes, so its own writes trigger nothing

    def _pool(self, name: str):
        return self.store.get(IPPOOL_TYPE, self.namespace, name)

    def _index(self, name: str) -> _PoolIndex:
        entry = self._pool(name)
        version = entry.obj["metadata"]["resourceVersion"] if entry else ""
        index = self._indexes.get(name)
        if index is None or index.resource_version != version:
            index = _PoolIndex(version)
            allocations = (entry.obj.get("spec") or {}).get("allocations") or {} if entry else {}
            for key, value in allocations.items():
                if str(key).isdigit():
                    index.reserve(int(key), (value.get("podref", ""), value.get("ifname", "")))
            self._indexes[name] = index
        return index

    def allocate(self, ip_range: IpRange, podref: str, ifname: str, container_id: str):
        """Reserve an address; returns an ip_interface (address with the range's prefix)."""
        index = self._index(ip_range.pool_name)
        prefix = ip_range.network.prefixlen
        existing = index.owners.get((podref, ifname))
        if existing is not None:
            return ipaddress.ip_interface((int(ip_range.address(existing)), prefix))
        offset = self._lowest_free(ip_range, index)
        if offset is None:
            raise ip_range.assignment_error()
        reservation = {"id": container_id, "podref": podref, "ifname": ifname}
        self._write(ip_range, {str(offset): reservation})
        return ipaddress.ip_interface((int(ip_range.network.network_address) + offset, prefix))

    def _lowest_free(self, ip_range: IpRange, index: _PoolIndex) -> int | None:
        walk = (ip_range.first, ip_range.last, ip_range.excludes)
        offset = max(ip_range.first, index.hints.get(walk, ip_range.first))
        used = index.used
        excluded = ip_range.exclude_offsets
        while offset <= ip_range.last:
            if offset in used:
                offset += 1
                continue
            skip_to = next((end + 1 for start, end in excluded if start <= offset <= end), None)
            if skip_to is not None:
                offset = skip_to
                continue
            index.hints[walk] = offset
            return offset
        index.hints[walk] = offset
        return None

    def _write(self, ip_range: IpRange, added: dict, removed: set[str] = frozenset()) -> None:
        name = ip_range.pool_name
        entry = self._pool(name)
        if entry is None:
            obj = {
                "apiVersion": IPPOOL_TYPE.api_version,
                "kind": IPPOOL_TYPE.kind,
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "uid": new_uid(),
                    "generation": 1,
                    "creationTimestamp": now_rfc3339(),
                },
                "spec": {"range": str(ip_range.network), "allocations": {}},
            }
            allocations = {}
        else:
            obj = {**entry.obj, "metadata": dict(entry.obj["metadata"])}
            obj["spec"] = dict(entry.obj.get("spec") or {})
            allocations = dict(obj["spec"].get("allocations") or {})
            obj["metadata"]["generation"] = entry.obj["metadata"].get("generation", 1) + 1
        for key in removed:
            allocations.pop(key, None)
        allocations.update(added)
        obj["spec"]["allocations"] = allocations
        obj["metadata"]["managedFields"] = [{**_POOL_FIELDS[0], "time": now_rfc3339()}]
        self.busy = True
        try:
            stored = self.store.put(IPPOOL_TYPE, obj)
        finally:
            self.busy = False
        index = self._indexes.get(name)
        if index is not None and (
            entry is None or index.resource_version == entry.obj["metadata"]["resourceVersion"]
        ):
            for key in removed:
                index.free(int(key))
            for key, value in added.items():
                index.reserve(int(key), (value["podref"], value["ifname"]))
            index.resource_version = stored.obj["metadata"]["resourceVersion"]

    def release(self, ip_range: IpRange, podref: str, ifname: str) -> None:
        index = self._index(ip_range.pool_name)
        offset = index.owners.get((podref, ifname))
        if offset is not None:
            self._write(ip_range, {}, {str(offset)})

    def exhaust(self, cidr: str) -> None:
        ip_range = _parse_range({"range": cidr}, "")
        index = self._index(ip_range.pool_name)
        added = {
            str(offset): {"id": EXHAUSTED_ID, "podref": "labsim/exhausted", "ifname": "net0"}
            for offset in range(ip_range.first, ip_range.last + 1)
            if offset not in index.used
        }
        if added:
            self._write(ip_range, added)

    def unexhaust(self, cidr: str) -> None:
        ip_range = _parse_range({"range": cidr}, "")
        entry = self._pool(ip_range.pool_name)
        if entry is None:
            return
        allocations = (entry.obj.get("spec") or {}).get("allocations") or {}
        removed = {key for key, value in allocations.items() if value.get("id") == EXHAUSTED_ID}
        if removed:
            self._write(ip_range, {}, removed)
