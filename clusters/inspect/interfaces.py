"""Each requested interface of a pod against its rail: present, duplicated, in the wrong subnet,
excluded, outside the range, misnamed, or fine."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from clusters.inspect.context import Context
from clusters.inspect.plans import RailPlan
from clusters.inspect.pods import PodView, is_dict, pod_reason
from planner import ipam
from planner.podfacts import normal_pci as _pci

# Interface statuses, most severe first (an interface shows the first that applies).
MISSING = "missing"


DUPLICATE = "duplicate"


WRONG_SUBNET = "wrong_subnet"


EXCLUDED = "excluded"


OUTSIDE_RANGE = "outside_range"


WRONG_NAME = "wrong_name"


OK = "ok"


STATUSES = (MISSING, DUPLICATE, WRONG_SUBNET, EXCLUDED, OUTSIDE_RANGE, WRONG_NAME, OK)


STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


@dataclass(slots=True)
class InterfaceReport:
    name: str  # the interface in the pod; the requested name when missing
    network: str  # "namespace/nad"
    nad: str
    rail: int | None
    subnet: str | None
    planned_name: str | None
    ips: list[str]
    mac: str | None
    pci_address: str | None
    pf_pci_address: str | None
    rdma_device: str | None
    numa_node: int | None
    numa_source: str | None  # observed (the pod), node (node facts) or plan
    status: str
    detail: str
    problems: list[str] = field(default_factory=list)
    requested: bool = True
    interface_given: bool = True
    shared_with: list[str] = field(default_factory=list)  # "ns/pod ifname" holding the same IP
    exclusion: str | None = None

    @property
    def ip(self) -> str | None:
        return self.ips[0] if self.ips else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "network": self.network,
            "nad": self.nad,
            "rail": self.rail,
            "subnet": self.subnet,
            "planned_name": self.planned_name,
            "ip": self.ip,
            "ips": list(self.ips),
            "mac": self.mac,
            "pci_address": self.pci_address,
            "pf_pci_address": self.pf_pci_address,
            "rdma_device": self.rdma_device,
            "numa_node": self.numa_node,
            "numa_source": self.numa_source,
            "status": self.status,
            "detail": self.detail,
            "problems": list(self.problems),
            "requested": self.requested,
            "interface_given": self.interface_given,
            "shared_with": list(self.shared_with),
            "exclusion": self.exclusion,
        }

    @classmethod
    def from_dict(cls, data: dict) -> InterfaceReport:
        names = cls.__dataclass_fields__
        values = {key: value for key, value in data.items() if key in names}
        values.setdefault("ips", [data["ip"]] if data.get("ip") else [])
        for key in ("network", "nad", "rail", "subnet", "planned_name", "mac", "pci_address"):
            values.setdefault(key, None)
        for key in ("pf_pci_address", "rdma_device", "numa_node", "numa_source"):
            values.setdefault(key, None)
        values.setdefault("name", "")
        values.setdefault("status", OK)
        values.setdefault("detail", "")
        values["network"] = values["network"] or values["nad"] or ""
        values["nad"] = values["nad"] or values["network"].rpartition("/")[2]
        values.setdefault("problems", [] if values["status"] == OK else [values["status"]])
        return cls(**values)


IpOwners = dict[str, list[tuple[PodView, dict]]]  # bare IP -> [(pod, network-status entry)]


def ip_owners(views: list[PodView]) -> IpOwners:
    """Who holds each secondary-network address, over pods that hold addresses (not finished)."""
    owners: IpOwners = defaultdict(list)
    for view in views:
        if view.terminal:
            continue
        for entry in view.status_entries:
            if not entry["default"]:
                for ip in entry["ips"]:
                    owners[ip].append((view, entry))
    return owners


def interface_reports(
    view: PodView, context: Context, owners: IpOwners | None = None, devices: dict | None = None
) -> list[InterfaceReport]:
    """One report per requested attachment (and per extra non-default attachment Multus
    reports), compared with the plan."""
    unused: dict[str, list[dict]] = defaultdict(list)
    for entry in view.status_entries:
        if not entry["default"]:
            unused[entry["name"]].append(entry)
    observed = _observed_numa(devices)
    reports = []
    for attachment in view.networks:
        network = f"{attachment['namespace']}/{attachment['name']}"
        entry = _take_entry(unused, network, attachment["interface"])
        reports.append(
            _interface(view, context, owners, observed, attachment, network, entry, True)
        )
    for network, entries in unused.items():
        for entry in entries:
            namespace, _, name = network.rpartition("/")
            attachment = {
                "name": name,
                "namespace": namespace or None,
                "interface": entry["interface"] or "",
                "interface_given": True,
            }
            reports.append(
                _interface(view, context, owners, observed, attachment, network, entry, False)
            )
    return reports


def _take_entry(unused: dict[str, list[dict]], network: str, interface: str) -> dict | None:
    candidates = unused.get(network)
    if not candidates:
        return None
    for position, entry in enumerate(candidates):
        if entry["interface"] == interface:
            return candidates.pop(position)
    return candidates.pop(0)


def _observed_numa(devices: dict | None) -> dict[str, int]:
    """{interface name or VF PCI address: NUMA node} from what the pod sees."""
    observed: dict[str, int] = {}
    if not is_dict(devices):
        return observed
    for item in (devices.get("interfaces") or []) + (devices.get("vfs") or []):
        if not is_dict(item) or not isinstance(item.get("numa_node"), int):
            continue
        if item.get("name"):
            observed[str(item["name"])] = item["numa_node"]
        if item.get("pci"):
            observed[_pci(item["pci"])] = item["numa_node"]
    return observed


def _interface(
    view: PodView,
    context: Context,
    owners: IpOwners | None,
    observed: dict[str, int],
    attachment: dict,
    network: str,
    entry: dict | None,
    requested: bool,
) -> InterfaceReport:
    plan = context.plan_for(attachment["namespace"], attachment["name"])
    rail = plan.rail_for(attachment["name"]) if plan else None
    rail_spec = plan.rail_spec_for(attachment["name"]) if plan else None
    found = entry or {}
    device = found.get("device_info") or {}
    name = found.get("interface") or attachment["interface"]
    pci, pf_pci = device.get("pci_address"), device.get("pf_pci_address")
    numa, numa_source = None, None
    if entry is not None:
        numa = observed.get(name, observed.get(pci))
        numa_source = "observed"
        if numa is None and context.nodes is not None:
            numa, numa_source = context.nodes.nic_numa_of(view.node, pf_pci, pci), "node"
        if numa is None and plan is not None:
            rail_index = rail_spec.index if rail_spec else None
            numa, numa_source = plan.nic_numa(view.node, pf_pci, pci, rail_index), "plan"
    report = InterfaceReport(
        name=name,
        network=network,
        nad=attachment["name"],
        rail=rail_spec.index if rail_spec else None,
        subnet=rail_spec.subnet if rail_spec else None,
        planned_name=rail_spec.interface_name if rail_spec else None,
        ips=list(found.get("ips") or []),
        mac=found.get("mac"),
        pci_address=pci,
        pf_pci_address=pf_pci,
        rdma_device=device.get("rdma_device"),
        numa_node=numa,
        numa_source=numa_source if numa is not None else None,
        status=OK,
        detail="",
        requested=requested,
        interface_given=bool(attachment.get("interface_given", True)),
    )
    _judge(report, view, rail, rail_spec, entry, owners, plan is not None)
    return report


def _judge(
    report, view: PodView, rail: RailPlan | None, rail_spec, entry, owners, plan_known: bool
) -> None:
    """Set the report's problems, status and detail."""
    problems: list[str] = []
    details: list[str] = []
    if entry is None:
        problems.append(MISSING)
        details.append(_missing_detail(view))
    else:
        for ip in report.ips:
            holders = owners.get(ip, ()) if owners else ()
            if len(holders) > 1:
                others = [
                    f"{pod.key} {other['interface'] or other['name']}"
                    for pod, other in holders
                    if other is not entry
                ]
                if others:
                    report.shared_with = others
                    problems.append(DUPLICATE)
                    details.append(f"{ip} is also on {', '.join(others[:3])}")
            if rail is not None:
                _judge_address(report, rail, ip, problems, details)
        if rail is not None and not report.ips:
            problems.append(WRONG_SUBNET)
            details.append(f"no address; rail {rail.index} expects one in {rail.rail.subnet}")
        if rail_spec is not None and report.name != rail_spec.interface_name:
            problems.append(WRONG_NAME)
            details.append(
                f"attached as {report.name}; the plan names rail {rail_spec.index} "
                f"{rail_spec.interface_name}"
            )
    if plan_known and rail_spec is None:
        details.append(f"{report.nad} is not a rail of the plan")
    report.problems = sorted(dict.fromkeys(problems), key=STATUS_RANK.__getitem__)
    report.status = report.problems[0] if report.problems else OK
    if not details and rail is not None:
        details.append(f"{', '.join(report.ips)} in {rail.rail.subnet} (rail {rail.index})")
    report.detail = "; ".join(item for item in details if item)


def _judge_address(report, rail: RailPlan, ip: str, problems: list, details: list) -> None:
    value = _ip_int(ip)
    version = 6 if ":" in ip else 4
    if (
        value is None
        or version != rail.version
        or not (rail.subnet_span[0] <= value <= rail.subnet_span[1])
    ):
        problems.append(WRONG_SUBNET)
        details.append(f"{ip} is outside rail {rail.index}'s subnet {rail.rail.subnet}")
        return
    label = rail.exclusion_of(value)
    if label is not None:
        problems.append(EXCLUDED)
        report.exclusion = label
        details.append(f"{ip} is in the excluded {label}")
    elif rail.usable is None or not rail.usable[0] <= value <= rail.usable[1]:
        problems.append(OUTSIDE_RANGE)
        details.append(f"{ip} is outside rail {rail.index}'s pod range {rail.range_text()}")


def _ip_int(ip: str) -> int | None:
    try:
        return ipam.ip_to_int(ip)
    except (OSError, ValueError):
        return None


def _missing_detail(view: PodView) -> str:
    if not view.running:
        return f"not attached: the pod is {view.phase} ({pod_reason(view) or 'starting'})"
    if not view.status_present:
        return "not attached: the pod has no network-status annotation"
    return "not in the pod's network-status"
