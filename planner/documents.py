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
EXCLUSION_FIELDS = ("cidr", "start", "end", "purpose", "note")
NIC_FIELDS = ("pf_name", "pci_address", "numa_node", "vf_count", "rdma_device", "host_ip")
MAX_RAIL_INDEX = 32767  # Rail.index is a PositiveSmallIntegerField


class DocumentError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def export_plan(plan: Plan) -> dict:
    """The plan document, built from rows (values tuples): no model object per node or NIC."""
    exclusions: dict[int, list[dict]] = {}
    rows = Exclusion.objects.filter(rail__plan=plan).order_by("rail_id", "first_ip", "id")
    for rail_id, *values in rows.values_list("rail_id", *EXCLUSION_FIELDS):
        exclusions.setdefault(rail_id, []).append(dict(zip(EXCLUSION_FIELDS, values, strict=True)))
    rails, index_of = [], {}
    overrides = ("nad_name_override", "resource_name_override", "interface_name_override")
    for rail_id, *values in (
        Rail.objects.filter(plan=plan).order_by("index").values_list("id", *RAIL_FIELDS, *overrides)
    ):
        entry = dict(zip(RAIL_FIELDS, values[: len(RAIL_FIELDS)], strict=True))
        nad, resource, interface = values[len(RAIL_FIELDS) :]
        entry.update(nad_name=nad, resource_name=resource, interface_name=interface)
        entry["exclusions"] = exclusions.get(rail_id, [])
        index_of[rail_id] = entry["index"]
        rails.append(entry)
    nics: dict[int, list[dict]] = {}
    for node_id, rail_id, *values in NodeNIC.objects.filter(node__plan=plan).values_list(
        "node_id", "rail_id", *NIC_FIELDS
    ):
        nics.setdefault(node_id, []).append(
            {"rail": index_of[rail_id], **dict(zip(NIC_FIELDS, values, strict=True))}
        )
    nodes = []
    for node_id, name, gpu_count, labels in (
        Node.objects.filter(plan=plan)
        .order_by("name")
        .values_list("id", "name", "gpu_count", "labels")
    ):
        node_nics = sorted(nics.get(node_id, ()), key=lambda nic: nic["rail"])
        nodes.append({"name": name, "gpu_count": gpu_count, "labels": labels, "nics": node_nics})
    return {
        "apiVersion": DOCUMENT_VERSION,
        "kind": DOCUMENT_KIND,
        "plan": Plan.objects.filter(pk=plan.pk).values(*PLAN_FIELDS).get(),
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


def _plan_part(plan: dict, rail_indexes: set[int], errors: dict) -> dict:
    """The plan's own fields through the API's PlanSerializer (types, then the same checks);
    returns its validated data."""
    from planner.api.serializers import PlanSerializer

    for field in ("name", "slug"):
        if not plan.get(field):
            errors.setdefault(f"plan.{field}", []).append("This field is required.")
    fields = {field: plan[field] for field in PLAN_FIELDS if field in plan}
    serializer = PlanSerializer(data=fields, context={"rail_indexes": rail_indexes})
    if serializer.is_valid():
        return serializer.validated_data
    for field, messages in serializer.errors.items():
        errors.setdefault(f"plan.{field}", []).extend(str(message) for message in messages)
    return {}


def _exclusion_span(ex: dict) -> ipam.Span:
    return ipam.span_of(ex["cidr"]) if ex.get("cidr") else ipam.range_span(ex["start"], ex["end"])


def validate_document(doc) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    doc = _require_mapping(doc, "", errors)
    if errors:
        return errors
    if doc.get("kind") not in (None, DOCUMENT_KIND):
        errors["kind"] = [f"Expected kind {DOCUMENT_KIND}, got {str(doc.get('kind'))[:80]!r}."]
    plan = _require_mapping(doc.get("plan"), "plan", errors)
    if not plan:
        errors.setdefault("plan", ["The document has no plan."])
        return errors
    rails = _require_list(doc.get("rails"), "rails", errors)
    declared = {
        raw.get("index", position) for position, raw in enumerate(rails) if isinstance(raw, dict)
    }
    _plan_part(plan, {index for index in declared if isinstance(index, int)}, errors)
    layout = _validate_rails(plan, rails, errors)
    _validate_nodes(doc, layout, errors)
    return errors


def _validate_rails(plan: dict, rails: list, errors: dict) -> dict[int, tuple]:
    """Rail checks of the API (validation.rail_errors, exclusion_errors) by path; returns each
    valid rail's (subnet, usable span, exclusion spans, host IPs seen) by index."""
    neighbours = validation.plan_neighbours(plan)
    taken: dict[str, dict[str, str]] = {"nad_name": {}, "interface_name": {}}
    layout: dict[int, tuple] = {}
    indexes: set[int] = set()
    for position, raw in enumerate(rails):
        path = f"rails.{position}."
        rail = _require_mapping(raw, f"rails.{position}", errors)
        index = rail.get("index", position)
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index <= MAX_RAIL_INDEX
            or index in indexes
        ):
            errors.setdefault(f"{path}index", []).append(
                f"Rail indexes are distinct whole numbers from 0 to {MAX_RAIL_INDEX}."
            )
            continue
        indexes.add(index)
        effective = dict(rail)
        for field, template in (
            ("nad_name", plan.get("nad_name_template") or "sriov-rail-{rail}"),
            ("resource_name", plan.get("resource_name_template") or "nvidia.com/rail{rail}_vf"),
            ("interface_name", plan.get("interface_template") or "net{rail+1}"),
        ):
            effective[field] = rail.get(field) or (
                naming.render(template, index) if isinstance(template, str) else ""
            )
        rail_errors = validation.rail_errors(effective, neighbours, taken)
        _errors_for(path, rail_errors, errors)
        for field in ("nad_name", "interface_name"):
            if isinstance(effective[field], str):
                taken[field][effective[field]] = f"rail {index}"
        if "subnet" in rail_errors:
            continue
        neighbours.append(validation.Neighbour(f"rail {index}", rail["subnet"]))
        others: list[tuple[str, ipam.Span]] = []
        for ex_pos, raw_ex in enumerate(
            _require_list(rail.get("exclusions"), f"{path}exclusions", errors)
        ):
            ex = _require_mapping(raw_ex, f"{path}exclusions.{ex_pos}", errors)
            ex_errors = validation.exclusion_errors(ex, rail["subnet"], others)
            _errors_for(f"{path}exclusions.{ex_pos}.", ex_errors, errors)
            if not ex_errors:
                others.append((ex.get("cidr") or f"{ex['start']}-{ex['end']}", _exclusion_span(ex)))
        if not rail_errors:
            usable = ipam.usable_span(
                rail["subnet"], rail.get("range_start"), rail.get("range_end")
            )
            layout[index] = (rail["subnet"], usable, [span for _, span in others], set())
        else:
            layout[index] = (None, None, [], set())
    return layout


def _validate_nodes(doc: dict, layout: dict[int, tuple], errors: dict) -> None:
    """Node and NIC checks of the API, and host IPs placed as validation and allocation place
    them: in the rail's pod range, outside its exclusions, one NIC per address."""
    names = set()
    for position, raw in enumerate(_require_list(doc.get("nodes"), "nodes", errors)):
        node = _require_mapping(raw, f"nodes.{position}", errors)
        name = node.get("name")
        if not isinstance(name, str) or not name or name in names:
            errors.setdefault(f"nodes.{position}.name", []).append(
                "Node names are required, text, and unique."
            )
        else:
            names.add(name)
        _errors_for(f"nodes.{position}.", validation.node_errors(node), errors)
        for nic_pos, raw_nic in enumerate(
            _require_list(node.get("nics"), f"nodes.{position}.nics", errors)
        ):
            where = f"nodes.{position}.nics.{nic_pos}."
            nic = _require_mapping(raw_nic, where[:-1], errors)
            rail_index = nic.get("rail")
            if (
                isinstance(rail_index, bool)
                or not isinstance(rail_index, int)
                or (rail_index not in layout)
            ):
                errors.setdefault(f"{where}rail", []).append(
                    f"No rail with index {rail_index!r} in this plan."
                    if isinstance(rail_index, int | str | None) and len(str(rail_index)) <= 20
                    else "No rail with that index in this plan."
                )
                continue
            subnet, usable, exclusions, used = layout[rail_index]
            nic_errors = validation.nic_errors(nic, subnet)
            _errors_for(where, nic_errors, errors)
            host_ip = nic.get("host_ip")
            if not (host_ip and subnet) or nic_errors:
                continue
            problem = validation.host_ip_placement_error(
                host_ip, f"rail {rail_index}", usable, exclusions
            )
            ip = int(ipam.parse_ip(host_ip))
            if problem is None and ip in used:
                problem = f"{host_ip} is given to another NIC on rail {rail_index}."
            used.add(ip)
            if problem:
                errors.setdefault(f"{where}host_ip", []).append(problem)


@transaction.atomic
def import_plan(doc: dict) -> Plan:
    errors = validate_document(doc)
    if errors:
        raise DocumentError(errors)
    plan_data = {field: value for field, value in doc["plan"].items() if field in PLAN_FIELDS}
    plan = Plan.objects.create(**plan_data)  # every field validated above
    rails_by_index = {}
    for position, entry in enumerate(doc.get("rails") or []):
        fields = {field: entry.get(field) for field in RAIL_FIELDS if field in entry}
        fields.setdefault("index", position)
        fields["routes"] = fields.get("routes") or []
        fields["subnet"] = str(ipam.parse_network(fields["subnet"]))
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
