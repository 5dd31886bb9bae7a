"""Field checks for plans, rails, exclusions, nodes and NICs: pure functions returning
{field: [reasons]}.

Serializers (and through them the pages) and both imports call these with the values being
written plus the neighbours they must not collide with, so every way in gives the same errors.
A rail has one address family: its range, gateway, exclusions, host IPs and routes are all of
its subnet's family.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from planner import ipam, k8snames, naming

Errors = dict[str, list[str]]
_PCI = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def _add(errors: Errors, field: str, message: str | None) -> None:
    if message:
        errors.setdefault(field, []).append(message)


def network_error(value: str | None, *, strict: bool = True) -> str | None:
    if not value:
        return None
    try:
        ipam.parse_network(value, strict=strict)
    except ipam.AddressError as error:
        return str(error)
    return None


def family_error(value, network, what: str = "address") -> str | None:
    """Why `value` is not an address of `network`'s family, or None."""
    try:
        ip = ipam.parse_ip(value)
    except ipam.AddressError as error:
        return str(error)
    if ip.version != network.version:
        return (
            f"{value} is an IPv{ip.version} {what} but the rail {network} is "
            f"IPv{network.version}: every address of a rail is of its family."
        )
    return None


def address_in_rail_error(value, network) -> str | None:
    """Why `value` is not an address inside the rail subnet `network` (a parsed IPNetwork)."""
    problem = family_error(value, network)
    if problem:
        return problem
    if not network.first <= int(ipam.parse_ip(value)) <= network.last:
        return f"{value} is outside the rail subnet {network}."
    return None


def plan_errors(data: dict) -> Errors:
    errors: Errors = {}
    _add(errors, "namespace", naming.dns1123_error(data.get("namespace", "")))
    _add(errors, "pod_cidr", network_error(data.get("pod_cidr")))
    _add(errors, "service_cidr", network_error(data.get("service_cidr")))
    for field in ("nad_name_template", "resource_name_template", "interface_template"):
        if data.get(field) is not None:
            _add(errors, field, naming.template_error(data[field]))
    rail_count = data.get("rail_count")
    if rail_count is not None and not 1 <= rail_count <= 64:
        _add(errors, "rail_count", "A plan has between 1 and 64 rails.")
    prefix = data.get("rail_prefix_length")
    if prefix is not None and not 1 <= prefix <= 128:
        _add(errors, "rail_prefix_length", "The rail prefix length must be between 1 and 128.")
    supernet = data.get("supernet")
    if supernet and "supernet" not in errors and prefix and rail_count:
        try:
            subnets = ipam.carve(supernet, prefix, rail_count)
        except ipam.AddressError as error:
            _add(errors, "supernet", str(error))
        else:
            for message in carving_errors(subnets, data)[:3]:
                _add(errors, "supernet", message)
    if (
        data.get("pod_cidr")
        and data.get("service_cidr")
        and "pod_cidr" not in errors
        and "service_cidr" not in errors
        and ipam.overlaps(ipam.span_of(data["pod_cidr"]), ipam.span_of(data["service_cidr"]))
    ):
        _add(
            errors,
            "service_cidr",
            f"{data['service_cidr']} overlaps the pod CIDR {data['pod_cidr']}.",
        )
    return errors


@dataclass(frozen=True)
class Neighbour:
    """Another network a rail must not overlap: another rail, the pod CIDR, the service CIDR."""

    label: str
    cidr: str


# Networks no rail may overlap in any plan: what hosts and routers treat specially.
RESERVED = (
    Neighbour('"this network" (0.0.0.0/8)', "0.0.0.0/8"),
    Neighbour("the loopback range", "127.0.0.0/8"),
    Neighbour("the multicast range", "224.0.0.0/4"),
    Neighbour("the reserved range (and broadcast)", "240.0.0.0/4"),
    Neighbour("the unspecified and loopback addresses", "::/127"),
    Neighbour("the IPv4-mapped range", "::ffff:0:0/96"),
    Neighbour("the multicast range", "ff00::/8"),
)


def plan_neighbours(data: dict) -> list[Neighbour]:
    """The plan's networks a rail must not overlap (its pod and service CIDRs)."""
    found = []
    for label, field in (("the pod CIDR", "pod_cidr"), ("the service CIDR", "service_cidr")):
        if data.get(field) and network_error(data[field]) is None:
            found.append(Neighbour(label, data[field]))
    return found


def carving_errors(subnets: list[str], plan: dict) -> list[str]:
    """The rail checks for rails carved from a supernet: each against the pod and service CIDRs
    and the reserved ranges, as a rail added by hand is checked."""
    neighbours = plan_neighbours(plan)
    messages = []
    for index, subnet in enumerate(subnets):
        for message in rail_errors({"subnet": subnet}, neighbours).get("subnet", []):
            messages.append(f"Rail {index} would be {subnet}: {message}")
    return messages


def route_errors(routes, network) -> list[str]:
    """Routes are [{"dst": CIDR, "gw": address}]: dst of the rail's family, gw (optional, as in
    CNI) inside the rail subnet."""
    if routes in (None, ""):
        return []
    if not isinstance(routes, list):
        return ['Routes are a list of {"dst": CIDR, "gw": address} objects.']
    errors = []
    for position, route in enumerate(routes):
        where = f"route {position}"
        if not isinstance(route, dict):
            errors.append(f'{where} is not an object such as {{"dst": "10.0.0.0/8"}}.')
            continue
        unknown = sorted(str(key) for key in route if key not in ("dst", "gw"))
        if unknown:
            errors.append(f"{where} has unknown keys {', '.join(unknown)} (only dst and gw).")
        dst, gw = route.get("dst"), route.get("gw")
        if not isinstance(dst, str) or not dst:
            errors.append(f"{where} needs a destination CIDR in dst.")
        else:
            problem = network_error(dst)
            if problem is None and ipam.parse_network(dst).version != network.version:
                problem = f"{dst} is not IPv{network.version}, the rail's family."
            if problem:
                errors.append(f"{where}: {problem}")
        if gw is not None:
            problem = (
                address_in_rail_error(gw, network)
                if isinstance(gw, str)
                else "gw must be an address text."
            )
            if problem:
                errors.append(f"{where} gateway: {problem}")
        if len(errors) >= 10:
            break
    return errors


def _address_errors(data: dict, network, neighbours: Iterable[Neighbour], errors: Errors) -> None:
    """The rail's subnet against its neighbours, and its gateway, routes and pod range inside
    it."""
    subnet = data["subnet"]
    subnet_span = (int(network.first), int(network.last))
    max_length = 32 if network.version == 4 else 128
    if network.prefixlen >= max_length - 1:
        _add(
            errors,
            "subnet",
            f"A /{network.prefixlen} has no address whereabouts can use "
            "(it needs network+1 .. broadcast-1); use /30 or larger.",
        )
    for neighbour in (*neighbours, *RESERVED):
        if (
            neighbour.cidr
            and network_error(neighbour.cidr) is None
            and ipam.parse_network(neighbour.cidr).version == network.version
            and ipam.overlaps(subnet_span, ipam.span_of(neighbour.cidr))
        ):
            _add(errors, "subnet", f"{subnet} overlaps {neighbour.label} ({neighbour.cidr}).")
    for field in ("gateway", "range_start", "range_end"):
        value = data.get(field)
        if value:
            _add(errors, field, address_in_rail_error(value, network))
    for message in route_errors(data.get("routes"), network):
        _add(errors, "routes", message)
    start, end = data.get("range_start"), data.get("range_end")
    if start and end and "range_start" not in errors and "range_end" not in errors:
        if int(ipam.parse_ip(start)) > int(ipam.parse_ip(end)):
            _add(errors, "range_end", f"The pod range ends at {end}, before its start {start}.")
        elif ipam.size(ipam.normalize([ipam.range_span(start, end)])) < 2 and network.version == 4:
            _add(errors, "range_end", "The pod range holds a single address.")
    if (
        not {"range_start", "range_end", "subnet"} & errors.keys()
        and ipam.usable_span(subnet, start, end) is None
    ):
        _add(errors, "range_start", "The pod range has no usable address.")


def rail_errors(
    data: dict, neighbours: Iterable[Neighbour] = (), taken_names: dict | None = None
) -> Errors:
    """`data` holds subnet, gateway, range_start, range_end, vlan and the effective nad_name,
    resource_name, interface_name. `taken_names` maps 'nad_name' / 'interface_name' to
    {name: label of the rail using it}."""
    errors: Errors = {}
    subnet = data.get("subnet")
    _add(errors, "subnet", network_error(subnet) if subnet else "A rail needs a subnet.")
    if "subnet" not in errors:
        _address_errors(data, ipam.parse_network(subnet), neighbours, errors)
    vlan = data.get("vlan")
    if vlan is not None and (
        not isinstance(vlan, int) or isinstance(vlan, bool) or not 0 <= vlan <= 4094
    ):
        _add(errors, "vlan", "A VLAN id is a whole number between 0 and 4094.")
    for field, check in (
        ("nad_name", k8snames.nad_name_error),
        ("interface_name", naming.interface_error),
        ("resource_name", naming.resource_error),
    ):
        value = data.get(field)
        if value is not None:
            _add(errors, field, check(value) if isinstance(value, str) else "Expected text.")
    for field, names in (taken_names or {}).items():
        value = data.get(field)
        if value and value in names:
            _add(errors, field, f"'{value}' is already used by {names[value]}.")
    return errors


def exclusion_errors(
    data: dict, rail_subnet: str, others: Iterable[tuple[str, ipam.Span]] = ()
) -> Errors:
    """`data` holds cidr or start+end. `others` are (label, span) of the rail's other exclusions."""
    errors: Errors = {}
    cidr, start, end = data.get("cidr"), data.get("start"), data.get("end")
    if cidr and (start or end):
        _add(errors, "cidr", "Give either a CIDR or a start-end range, not both.")
        return errors
    if not cidr and not (start and end):
        if start and not end:
            _add(errors, "end", "A range needs an end address.")
        elif end and not start:
            _add(errors, "start", "A range needs a start address.")
        else:
            _add(errors, "cidr", "Give a CIDR (e.g. 10.50.0.0/24) or a start-end range.")
        return errors
    try:
        span = ipam.span_of(cidr) if cidr else ipam.range_span(start, end)
    except ipam.AddressError as error:
        field = "cidr" if cidr else ("end" if "after its end" in str(error) else "start")
        if not cidr:
            for name, value in (("start", start), ("end", end)):
                try:
                    ipam.parse_ip(value)
                except ipam.AddressError as bad:
                    _add(errors, name, str(bad))
            if errors:
                return errors
        _add(errors, field, str(error))
        return errors
    field = "cidr" if cidr else "start"
    label = cidr or f"{start}-{end}"
    network = ipam.parse_network(rail_subnet)
    version = ipam.parse_network(cidr).version if cidr else ipam.parse_ip(start).version
    if version != network.version:
        _add(
            errors,
            field,
            f"{label} is IPv{version} but the rail {network} is IPv{network.version}: every "
            "address of a rail is of its family.",
        )
        return errors
    subnet_span = (int(network.first), int(network.last))
    if not ipam.contains(subnet_span, span):
        _add(errors, field, f"{label} is outside the rail subnet {rail_subnet}.")
    for other_label, other_span in others:
        if ipam.overlaps(span, other_span):
            _add(errors, field, f"{label} overlaps the exclusion {other_label}.")
            break
    return errors


PCI_ADDRESS_HINT = "a PCI address such as 0000:1a:00.0"
MAX_NUMA_NODE = 1023  # Linux's limit (CONFIG_NODES_SHIFT=10)


def nic_errors(data: dict, rail_subnet: str | None = None) -> Errors:
    errors: Errors = {}
    numa = data.get("numa_node")
    if numa is not None and (
        not isinstance(numa, int) or isinstance(numa, bool) or not 0 <= numa <= MAX_NUMA_NODE
    ):
        _add(errors, "numa_node", f"The NUMA node is a whole number from 0 to {MAX_NUMA_NODE}.")
    vfs = data.get("vf_count", 1)
    if not isinstance(vfs, int) or isinstance(vfs, bool) or not 0 <= vfs <= 256:
        _add(errors, "vf_count", "The VF count is a whole number from 0 to 256.")
    pf_name = data.get("pf_name") or ""
    for field in ("pf_name", "rdma_device", "pci_address"):
        if not isinstance(data.get(field) or "", str):
            _add(errors, field, "Expected text.")
            return errors
    if pf_name:
        _add(errors, "pf_name", naming.interface_error(pf_name) if pf_name != "eth0" else None)
    rdma = data.get("rdma_device") or ""
    if len(rdma) > 32:
        _add(errors, "rdma_device", "An RDMA device name has at most 32 characters.")
    pci = data.get("pci_address") or ""
    if pci and not _PCI.match(pci):
        _add(errors, "pci_address", f"'{pci}' is not {PCI_ADDRESS_HINT}.")
    host_ip = data.get("host_ip")
    if host_ip:
        if not isinstance(host_ip, str):
            _add(errors, "host_ip", "A host IP is an address text such as 10.50.0.10.")
        elif rail_subnet:
            _add(errors, "host_ip", address_in_rail_error(host_ip, ipam.parse_network(rail_subnet)))
        else:
            try:
                ipam.parse_ip(host_ip)
            except ipam.AddressError as error:
                _add(errors, "host_ip", str(error))
    return errors


def host_ip_placement_error(host_ip: str, rail_label: str, usable, exclusions) -> str | None:
    """A host IP (already checked by nic_errors) must lie in the rail's usable pod range and
    outside its exclusions: whereabouts then never hands it to a pod (it is written into the
    NADs' exclude list). Uniqueness per rail is the caller's part."""
    ip = int(ipam.parse_ip(host_ip))
    if usable is None or not usable[0] <= ip <= usable[1]:
        return (
            f"{host_ip} is outside the usable pod range of {rail_label}: network and broadcast "
            "addresses, and addresses outside range_start..range_end, are not usable."
        )
    if any(first <= ip <= last for first, last in exclusions):
        return f"{host_ip} is inside an exclusion of {rail_label}."
    return None


def node_errors(data: dict) -> Errors:
    errors: Errors = {}
    gpus = data.get("gpu_count", 8)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or not 0 <= gpus <= 64:
        _add(errors, "gpu_count", "The GPU count is a whole number from 0 to 64.")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        _add(errors, "labels", "Labels are a mapping of strings to strings.")
    name = data.get("name") or ""
    if not name:
        _add(errors, "name", "A node needs a name.")
    elif len(name) > 253:
        _add(errors, "name", "A node name has at most 253 characters.")
    return errors
