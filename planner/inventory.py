"""Node and NIC inventory from CSV or YAML, validated whole before anything is written.

CSV: one row per NIC, columns `node, gpu_count, rail, pf_name, pci_address, numa_node,
vf_count, rdma_device, host_ip, labels` (labels as `key=value;key=value`); only `node` and
`rail` are required. YAML (or JSON): a list of nodes, or `{nodes: [...]}`, each
`{name, gpu_count, labels, nics: [{rail, pf_name, pci_address, numa_node, vf_count, rdma_device,
host_ip}]}`. Errors are keyed by where they are: `line 4.numa_node` or `nodes.2.nics.0.rail`.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from dataclasses import dataclass, field

from django.db import transaction

from planner import bulk_sql, ipam, locks, validation
from planner.models import Node, NodeNIC, Plan
from railstudio import datalimits

CSV_COLUMNS = (
    "node", "gpu_count", "rail", "pf_name", "pci_address", "numa_node", "vf_count",
    "rdma_device", "host_ip", "labels",
)  # fmt: skip
INT_FIELDS = ("gpu_count", "rail", "numa_node", "vf_count")
NIC_FIELDS = ("pf_name", "pci_address", "numa_node", "vf_count", "rdma_device", "host_ip")


class InventoryError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


@dataclass
class ParsedNIC:
    where: str
    data: dict


@dataclass
class ParsedNode:
    where: str
    name: str
    fields: dict
    nics: list[ParsedNIC]
    problems: dict = field(default_factory=dict)  # parse errors, reported with validation's


def _int_or_error(value, where: str, field: str, errors: dict):
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        errors.setdefault(f"{where}.{field}", []).append(f"'{value}' is not a whole number.")
        return None


def parse_csv(text: str) -> list[ParsedNode]:
    try:
        return _parse_csv(text)
    except csv.Error as error:
        raise InventoryError({"file": [f"The CSV cannot be read: {error}."]}) from None


def _parse_csv(text: str) -> list[ParsedNode]:
    errors: dict[str, list[str]] = {}
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"node", "rail"} <= {f.strip() for f in reader.fieldnames}:
        raise InventoryError(
            {"file": ["The CSV header must name at least the columns node and rail."]}
        )
    unknown = [f for f in reader.fieldnames if f.strip() not in CSV_COLUMNS]
    if unknown:
        raise InventoryError(
            {"file": [f"Unknown columns: {', '.join(unknown)}. Known: {', '.join(CSV_COLUMNS)}."]}
        )
    nodes: dict[str, ParsedNode] = {}
    for row in reader:
        where = f"line {reader.line_num}"
        row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
        name = row.get("node", "")
        if not name:
            errors.setdefault(f"{where}.node", []).append("A row needs a node name.")
            continue
        numbers = {
            field: _int_or_error(row.get(field), where, field, errors) for field in INT_FIELDS
        }
        labels = {}
        for pair in filter(None, (row.get("labels") or "").split(";")):
            key, sep, value = pair.partition("=")
            if not sep:
                errors.setdefault(f"{where}.labels", []).append(f"'{pair}' is not key=value.")
            labels[key.strip()] = value.strip()
        node = nodes.setdefault(name, ParsedNode(where, name, {}, []))
        for key in [key for key in errors if key.startswith(f"{where}.")]:
            node.problems[key] = errors.pop(key)
        if numbers["gpu_count"] is not None:
            node.fields["gpu_count"] = numbers["gpu_count"]
        if labels:
            node.fields.setdefault("labels", {}).update(labels)
        nic = {
            field: row.get(field) or None
            for field in ("pf_name", "pci_address", "rdma_device", "host_ip")
        }
        nic.update(rail=numbers["rail"], numa_node=numbers["numa_node"])
        if numbers["vf_count"] is not None:
            nic["vf_count"] = numbers["vf_count"]
        node.nics.append(ParsedNIC(where, nic))
    if errors:
        raise InventoryError(errors)
    return list(nodes.values())


def parse_yaml(text: str) -> list[ParsedNode]:
    try:
        document = datalimits.load_yaml(text)
    except datalimits.LimitError as error:
        raise InventoryError({"file": [f"Not valid YAML or JSON: {error}"]}) from None
    return parse_documents(document)


def parse_documents(document) -> list[ParsedNode]:
    """Nodes from data already read (a YAML file's content, or discovered nodes): a list of
    node mappings, or a mapping with `nodes`."""
    if isinstance(document, dict):
        document = document.get("nodes")
    if not isinstance(document, list):
        raise InventoryError({"file": ["Expected a list of nodes, or a mapping with 'nodes'."]})
    nodes, errors = [], {}
    for position, entry in enumerate(document):
        where = f"nodes.{position}"
        if not isinstance(entry, dict):
            errors.setdefault(where, []).append("Expected a mapping (an object).")
            continue
        nics = []
        raw_nics = entry.get("nics") or []
        if not isinstance(raw_nics, list):
            errors.setdefault(f"{where}.nics", []).append("Expected a list.")
            raw_nics = []
        for nic_pos, nic in enumerate(raw_nics):
            if not isinstance(nic, dict):
                errors.setdefault(f"{where}.nics.{nic_pos}", []).append("Expected a mapping.")
                continue
            nics.append(ParsedNIC(f"{where}.nics.{nic_pos}", dict(nic)))
        fields = {key: entry[key] for key in ("gpu_count", "labels") if key in entry}
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            errors.setdefault(f"{where}.name", []).append("A node name is text.")
            continue
        nodes.append(ParsedNode(where, name or "", fields, nics))
    if errors:
        raise InventoryError(errors)
    return nodes


def parse(text: str, filename: str = "") -> list[ParsedNode]:
    """CSV when the file says so (name or a header line with commas and no colon), else YAML."""
    if "\x00" in text:
        raise InventoryError({"file": ["The text holds NUL characters: is it a binary file?"]})
    head = text.lstrip("\ufeff").lstrip().splitlines()[0] if text.strip() else ""
    is_csv = filename.lower().endswith(".csv") or (
        "," in head and ":" not in head and not head.startswith(("[", "{", "-"))
    )
    return parse_csv(text) if is_csv else parse_yaml(text)


def validate(plan: Plan, nodes: list[ParsedNode], rails=None) -> dict[str, list[str]]:
    rails = {rail.index: rail for rail in (plan.rails.all() if rails is None else rails)}
    errors: dict[str, list[str]] = {}
    host_ips = _HostIPs(plan)
    seen_nodes: set[str] = set()
    for node in nodes:
        errors.update(node.problems)
        for name, messages in validation.node_errors({"name": node.name, **node.fields}).items():
            errors.setdefault(f"{node.where}.{name}", []).extend(messages)
        seen_nodes.add(node.name)
        seen_rails: set[int] = set()
        for nic in node.nics:
            index = nic.data.get("rail")
            rail = (
                rails.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
            )
            if rail is None:
                errors.setdefault(f"{nic.where}.rail", []).append(
                    f"No rail with index {nic.data.get('rail')!r} in plan {plan.slug}."
                )
                continue
            if rail.index in seen_rails:
                errors.setdefault(f"{nic.where}.rail", []).append(
                    f"{node.name} lists rail {rail.index} twice."
                )
            seen_rails.add(rail.index)
            nic_errors = validation.nic_errors(nic.data, rail.subnet)
            for name, messages in nic_errors.items():
                errors.setdefault(f"{nic.where}.{name}", []).extend(messages)
            if nic.data.get("host_ip") and "host_ip" not in nic_errors:
                reason = host_ips.check(rail, node.name, nic.data["host_ip"])
                if reason:
                    errors.setdefault(f"{nic.where}.host_ip", []).append(reason)
    return errors


class _HostIPs:
    """Checks given host IPs against the rail's pod range, its exclusions, the plan's other NICs
    and the rest of the import."""

    def __init__(self, plan: Plan):
        self.taken: dict[tuple[int, int], str] = {}
        for rail_id, node, ip in (
            NodeNIC.objects.order_by()
            .filter(node__plan=plan, host_ip__isnull=False)
            .values_list("rail_id", "node__name", "host_ip")
        ):
            self.taken[(rail_id, ipam.ip_to_int(ip))] = node
        self.spaces: dict[int, tuple] = {}

    def check(self, rail, node: str, host_ip: str) -> str | None:
        if rail.id not in self.spaces:
            usable = ipam.usable_span(rail.subnet, rail.range_start, rail.range_end)
            spans = ipam.normalize(rail.exclusion_spans())
            self.spaces[rail.id] = (usable, spans, [first for first, _ in spans])
        usable, spans, starts = self.spaces[rail.id]
        ip = int(ipam.parse_ip(host_ip))
        # Exclusions are disjoint and sorted: only the last one starting at or below ip can hold it.
        at = bisect.bisect_right(starts, ip) - 1
        nearby = spans[at : at + 1] if at >= 0 else []
        problem = validation.host_ip_placement_error(host_ip, f"rail {rail.index}", usable, nearby)
        if problem:
            return problem
        holder = self.taken.get((rail.id, ip))
        if holder is not None and holder != node:
            return f"{host_ip} is already the host IP of {holder} on rail {rail.index}."
        self.taken[(rail.id, ip)] = node
        return None


BATCH_SIZE = 5000


@transaction.atomic
def import_nodes(
    plan: Plan, nodes: list[ParsedNode], *, batch_size: int = BATCH_SIZE, progress=None
) -> dict:
    """Create or update nodes by name and their NICs by rail; all or nothing. The plan's rails
    are locked first (planner.locks), so host IPs checked are host IPs written. One validation
    pass, then bulk writes in batches: a few statements per thousand rows. `progress`, if given,
    is called with (NIC rows written, NIC rows in the import) after each batch."""
    locked = locks.lock_plan_rails(plan.pk)
    errors = validate(plan, nodes, locked)
    if errors:
        raise InventoryError(errors)
    rails = {rail.index: rail for rail in locked}
    counts = {"nodes_created": 0, "nodes_updated": 0, "nics_created": 0, "nics_updated": 0}
    nodes_by_name, new_nodes, changed_nodes = _node_rows(plan, nodes, counts)
    _update_nodes(changed_nodes, batch_size)
    Node.objects.bulk_create(new_nodes, batch_size=batch_size)
    existing = {
        (nic.node_id, nic.rail_id): nic
        for nic in NodeNIC.objects.order_by().filter(node__plan=plan)
    } if counts["nodes_updated"] else {}  # fmt: skip
    new_nics: dict[tuple[int, int], dict] = {}
    changed_nics: dict[int, NodeNIC] = {}
    matched: set[int] = set()  # existing NICs the import names, changed or not
    for parsed in nodes:
        node = nodes_by_name[parsed.name]
        for nic in parsed.nics:
            rail = rails[nic.data["rail"]]
            values = {
                field: nic.data[field] for field in NIC_FIELDS if nic.data.get(field) is not None
            }
            key = (node.pk, rail.pk)
            row = existing.get(key)
            if row is None:
                if key not in new_nics:
                    counts["nics_created"] += 1
                else:
                    counts["nics_updated"] += 1
                new_nics[key] = {**new_nics.get(key, NIC_DEFAULTS), **values}
                continue
            matched.add(row.pk)
            if any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                changed_nics[row.pk] = row
            counts["nics_updated"] += 1
    total = len(matched) + len(new_nics)
    report = progress or (lambda done, total: None)
    _update_nics(list(changed_nics.values()), batch_size)
    report(len(matched), total)
    _insert_nics(new_nics, batch_size, lambda inserted: report(len(matched) + inserted, total))
    return counts


NIC_DEFAULTS = {name: NodeNIC._meta.get_field(name).get_default() for name in NIC_FIELDS}
NIC_COLUMNS = ("node_id", "rail_id", *NIC_FIELDS, "host_int")
NIC_TYPES = ("bigint", "bigint", "text", "text", "integer", "integer", "text", "inet", "bigint")
# (column, PostgreSQL type) of an UPDATE by id: the id first, then the columns written.
NIC_INSERT = tuple(zip(NIC_COLUMNS, NIC_TYPES, strict=True))
NIC_UPDATE = (("id", "bigint"), *NIC_INSERT[2:])
NODE_UPDATE = (("id", "bigint"), ("gpu_count", "integer"), ("labels", "jsonb"))


def _update_nodes(nodes: list[Node], batch_size: int) -> None:
    rows = [(node.pk, node.gpu_count, json.dumps(node.labels)) for node in nodes]
    if not bulk_sql.update_rows(Node, NODE_UPDATE, rows, batch_size):
        Node.objects.bulk_update(nodes, ["gpu_count", "labels"], batch_size=batch_size)


def _update_nics(nics: list[NodeNIC], batch_size: int) -> None:
    rows = [
        (nic.pk, *(getattr(nic, name) for name in NIC_FIELDS), ipam.v4_int(nic.host_ip))
        for nic in nics
    ]
    if not bulk_sql.update_rows(NodeNIC, NIC_UPDATE, rows, batch_size):
        NodeNIC.objects.bulk_update(nics, NIC_FIELDS, batch_size=batch_size)


def _insert_nics(new: dict[tuple[int, int], dict], batch_size: int, inserted) -> None:
    """New NICs ({(node id, rail id): fields}); on PostgreSQL one INSERT ... UNNEST per batch,
    without a model object per row (the import's largest cost). `inserted(n)` after each
    batch."""
    rows = [
        (node_id, rail_id, *(values[name] for name in NIC_FIELDS), ipam.v4_int(values["host_ip"]))
        for (node_id, rail_id), values in new.items()
    ]
    if bulk_sql.insert_rows(NodeNIC, NIC_INSERT, rows, batch_size, inserted):
        return
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        NodeNIC.objects.bulk_create(
            [NodeNIC(**dict(zip(NIC_COLUMNS, row, strict=True))) for row in batch]
        )
        inserted(start + len(batch))


def _node_rows(plan: Plan, nodes: list[ParsedNode], counts: dict):
    """Nodes by name (existing ones updated in memory, new ones unsaved), new, and those whose
    fields the import changes (only they are written)."""
    by_name = {node.name: node for node in plan.nodes.order_by()}
    new, changed = [], {}
    for parsed in nodes:
        node = by_name.get(parsed.name)
        if node is None:
            node = by_name[parsed.name] = Node(plan=plan, name=parsed.name, **parsed.fields)
            new.append(node)
            counts["nodes_created"] += 1
            continue
        differs = False
        for name, value in parsed.fields.items():
            differs |= getattr(node, name) != value
            setattr(node, name, value)
        if differs and node.pk is not None:
            changed[node.pk] = node
        counts["nodes_updated"] += 1
    return by_name, new, list(changed.values())
