"""A whole plan as one document (YAML or JSON), so plans can live in git.

export_plan -> import_plan round-trips exactly. Import validates everything first and reports
errors by path (`rails.2.subnet`), then writes in one transaction: all or nothing.
"""

from __future__ import annotations

from django.db import transaction

from planner import ipam, naming, validation
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail

DOCUMENT_KIND = "RailStudioPlan"
DOCUMENT_VERSION = "railstudio.io/v1"

PLAN_FIELDS = (
    "name", "slug", "description", "namespace", "rail_count", "supernet", "rail_prefix_length",
    "nad_name_template", "resource_name_template", "interface_template", "cni_type",
    "cni_version", "mtu", "pod_cidr", "service_cidr", "cni_options", "pod_options",
)  # fmt: skip
RAIL_FIELDS = ("index", "subnet", "gateway", "vlan", "range_start", "range_end", "routes")
NIC_FIELDS = ("pf_name", "pci_address", "numa_node", "vf_count", "rdma_device", "host_ip")


class DocumentError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def export_plan(plan: Plan) -> dict:
    rails = []
    for rail in plan.rails.prefetch_related("exclusions").order_by("index"):
        entry = {field: getattr(rail, field) for field in RAIL_FIELDS}
        entry["nad_name"] = rail.nad_name_override
        entry["resource_name"] = rail.resource_name_override
        entry["interface_name"] = rail.interface_name_override
        entry["exclusions"] = [
            {
                "cidr": ex.cidr,
                "start": ex.start,
                "end": ex.end,
                "purpose": ex.purpose,
                "note": ex.note,
            }
            for ex in rail.exclusions.order_by("first_ip", "id")
        ]
        rails.append(entry)
    nodes = []
    for node in plan.nodes.prefetch_related("nics__rail").order_by("name"):
        nics = [
            {"rail": nic.rail.index, **{field: getattr(nic, field) for field in NIC_FIELDS}}
            for nic in sorted(node.nics.all(), key=lambda nic: nic.rail.index)
        ]
        nodes.append(
            {"name": node.name, "gpu_count": node.gpu_count, "labels": node.labels, "nics": nics}
        )
    return {
        "apiVersion": DOCUMENT_VERSION,
        "kind": DOCUMENT_KIND,
        "plan": {field: getattr(plan, field) for field in PLAN_FIELDS},
        "rails": rails,
        "nodes": nodes,
    }


def _errors_for(prefix: str, errors: dict[str, list[str]], into: dict) -> None:
    for field, messages in errors.items():
        into.setdefault(f"{prefix}{field}", []).extend(messages)


def _require_mapping(value, path: str, errors: dict) -> dict:
    if not isinstance(value, dict):
        errors.setdefault(path or "document", []).append("Expected a mapping (an object).")
        return {}
    return value


def _require_list(value, path: str, errors: dict) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.setdefault(path, []).append("Expected a list.")
        return []
    return value


def validate_document(doc) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    doc = _require_mapping(doc, "", errors)
    if errors:
        return errors
    if doc.get("kind") not in (None, DOCUMENT_KIND):
        errors["kind"] = [f"Expected kind {DOCUMENT_KIND}, got {doc.get('kind')!r}."]
    plan = _require_mapping(doc.get("plan"), "plan", errors)
    if not plan:
        errors.setdefault("plan", ["The document has no plan."])
        return errors
    for field in ("name", "slug"):
        if not plan.get(field):
            errors.setdefault(f"plan.{field}", []).append("This field is required.")
    slug = plan.get("slug") or ""
    if slug and naming.dns1123_error(slug):
        errors.setdefault("plan.slug", []).append(naming.dns1123_error(slug))
    _errors_for("plan.", validation.plan_errors(plan), errors)
    if plan.get("name") and Plan.objects.filter(name=plan["name"]).exists():
        errors.setdefault("plan.name", []).append(f"A plan named '{plan['name']}' already exists.")
    if slug and Plan.objects.filter(slug=slug).exists():
        errors.setdefault("plan.slug", []).append(f"A plan with slug '{slug}' already exists.")

    rails = _require_list(doc.get("rails"), "rails", errors)
    neighbours: list[validation.Neighbour] = []
    for label, field in (("the pod CIDR", "pod_cidr"), ("the service CIDR", "service_cidr")):
        if plan.get(field):
            neighbours.append(validation.Neighbour(label, plan[field]))
    taken: dict[str, dict[str, str]] = {"nad_name": {}, "interface_name": {}}
    indexes = set()
    for position, raw in enumerate(rails):
        path = f"rails.{position}."
        rail = _require_mapping(raw, f"rails.{position}", errors)
        index = rail.get("index", position)
        if not isinstance(index, int) or index < 0 or index in indexes:
            errors.setdefault(f"{path}index", []).append("Rail indexes are distinct integers >= 0.")
            continue
        indexes.add(index)
        effective = dict(rail)
        for field, template in (
            ("nad_name", plan.get("nad_name_template", "sriov-rail-{rail}")),
            ("resource_name", plan.get("resource_name_template", "nvidia.com/rail{rail}_vf")),
            ("interface_name", plan.get("interface_template", "net{rail+1}")),
        ):
            effective[field] = rail.get(field) or naming.render(template, index)
        _errors_for(path, validation.rail_errors(effective, neighbours, taken), errors)
        if rail.get("subnet") and not validation.network_error(rail["subnet"]):
            neighbours.append(validation.Neighbour(f"rail {index}", rail["subnet"]))
            others: list[tuple[str, ipam.Span]] = []
            for ex_pos, raw_ex in enumerate(
                _require_list(rail.get("exclusions"), f"{path}exclusions", errors)
            ):
                ex = _require_mapping(raw_ex, f"{path}exclusions.{ex_pos}", errors)
                ex_errors = validation.exclusion_errors(ex, rail["subnet"], others)
                _errors_for(f"{path}exclusions.{ex_pos}.", ex_errors, errors)
                if not ex_errors:
                    span = (
                        ipam.span_of(ex["cidr"])
                        if ex.get("cidr")
                        else ipam.range_span(ex["start"], ex["end"])
                    )
                    others.append((ex.get("cidr") or f"{ex['start']}-{ex['end']}", span))
        taken["nad_name"][effective["nad_name"]] = f"rail {index}"
        taken["interface_name"][effective["interface_name"]] = f"rail {index}"

    rail_layout = {}
    for position, raw in enumerate(rails):
        if (
            isinstance(raw, dict)
            and raw.get("subnet")
            and not validation.network_error(raw["subnet"])
        ):
            spans = []
            for ex in raw.get("exclusions") or []:
                try:
                    spans.append(
                        ipam.span_of(ex["cidr"])
                        if ex.get("cidr")
                        else ipam.range_span(ex["start"], ex["end"])
                    )
                except (ipam.AddressError, KeyError, TypeError):
                    continue
            usable = ipam.usable_span(raw["subnet"], raw.get("range_start"), raw.get("range_end"))
            rail_layout[raw.get("index", position)] = (raw["subnet"], usable, spans, set())
    nodes = _require_list(doc.get("nodes"), "nodes", errors)
    names = set()
    for position, raw in enumerate(nodes):
        node = _require_mapping(raw, f"nodes.{position}", errors)
        name = node.get("name")
        if not name or name in names:
            errors.setdefault(f"nodes.{position}.name", []).append(
                "Node names are required and unique."
            )
        names.add(name)
        _errors_for(f"nodes.{position}.", validation.node_errors(node), errors)
        for nic_pos, raw_nic in enumerate(
            _require_list(node.get("nics"), f"nodes.{position}.nics", errors)
        ):
            nic = _require_mapping(raw_nic, f"nodes.{position}.nics.{nic_pos}", errors)
            if nic.get("rail") not in indexes:
                errors.setdefault(f"nodes.{position}.nics.{nic_pos}.rail", []).append(
                    f"No rail with index {nic.get('rail')!r} in this plan."
                )
                continue
            subnet = next(
                (
                    r.get("subnet")
                    for r in rails
                    if isinstance(r, dict) and r.get("index") == nic["rail"]
                ),
                None,
            )
            _errors_for(
                f"nodes.{position}.nics.{nic_pos}.", validation.nic_errors(nic, subnet), errors
            )
    return errors


def _host_ip_errors(host_ip: str, usable, exclusions: list, used: set) -> dict:
    ip = int(ipam.parse_ip(host_ip))
    if usable is None or not usable[0] <= ip <= usable[1]:
        return {"host_ip": [f"{host_ip} is outside the rail's usable pod range."]}
    if any(first <= ip <= last for first, last in exclusions):
        return {"host_ip": [f"{host_ip} is inside an exclusion of the rail."]}
    if ip in used:
        return {"host_ip": [f"{host_ip} is given to another NIC on the same rail."]}
    used.add(ip)
    return {}


@transaction.atomic
def import_plan(doc: dict) -> Plan:
    errors = validate_document(doc)
    if errors:
        raise DocumentError(errors)
    plan_data = {field: value for field, value in doc["plan"].items() if field in PLAN_FIELDS}
    plan = Plan.objects.create(**plan_data)
    rails_by_index = {}
    for position, entry in enumerate(doc.get("rails") or []):
        fields = {field: entry.get(field) for field in RAIL_FIELDS if field in entry}
        fields.setdefault("index", position)
        fields["routes"] = fields.get("routes") or []
        rail = Rail.objects.create(
            plan=plan,
            nad_name_override=entry.get("nad_name") or "",
            resource_name_override=entry.get("resource_name") or "",
            interface_name_override=entry.get("interface_name") or "",
            **fields,
        )
        rails_by_index[rail.index] = rail
        for ex in entry.get("exclusions") or []:
            Exclusion.objects.create(
                rail=rail,
                cidr=ex.get("cidr") or None,
                start=None if ex.get("cidr") else ex.get("start"),
                end=None if ex.get("cidr") else ex.get("end"),
                purpose=ex.get("purpose") or "infrastructure",
                note=ex.get("note") or "",
            )
    nics = []
    for entry in doc.get("nodes") or []:
        node = Node.objects.create(
            plan=plan,
            name=entry["name"],
            gpu_count=entry.get("gpu_count", 8),
            labels=entry.get("labels") or {},
        )
        for nic in entry.get("nics") or []:
            fields = {field: nic[field] for field in NIC_FIELDS if nic.get(field) is not None}
            nics.append(NodeNIC(node=node, rail=rails_by_index[nic["rail"]], **fields))
    NodeNIC.objects.bulk_create(nics, batch_size=2000)
    return plan


def document_from_spec(spec) -> dict:
    """A PlanSpec (e.g. the seed's) as an import document."""
    plan = {field: getattr(spec, field) for field in PLAN_FIELDS}
    rails = []
    for rail in spec.rails:
        entry = {field: getattr(rail, field) for field in RAIL_FIELDS}
        entry["routes"] = list(rail.routes)
        for field, template in (
            ("nad_name", spec.nad_name_template),
            ("resource_name", spec.resource_name_template),
            ("interface_name", spec.interface_template),
        ):
            value = getattr(rail, field)
            entry[field] = "" if value == naming.render(template, rail.index) else value
        entry["exclusions"] = [
            {
                "cidr": ex.cidr,
                "start": ex.start,
                "end": ex.end,
                "purpose": ex.purpose,
                "note": ex.note,
            }
            for ex in rail.exclusions
        ]
        rails.append(entry)
    nodes = [
        {
            "name": node.name,
            "gpu_count": node.gpu_count,
            "labels": dict(node.labels),
            "nics": [
                {"rail": nic.rail_index, **{field: getattr(nic, field) for field in NIC_FIELDS}}
                for nic in node.nics
            ],
        }
        for node in spec.nodes
    ]
    return {
        "apiVersion": DOCUMENT_VERSION,
        "kind": DOCUMENT_KIND,
        "plan": plan,
        "rails": rails,
        "nodes": nodes,
    }
