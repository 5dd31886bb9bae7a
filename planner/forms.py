"""What the pages' forms hold and how their posts become serializer data.

Validation is the API serializers' job (same errors on the page and the API); this module only
describes fields for the templates and turns POST data into the serializers' input.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner import ipam
from planner.models import CNIType, ExclusionPurpose
from railstudio import numbers


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"  # text | number | textarea | select
    help: str = ""
    placeholder: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BoundField:
    spec: FieldSpec
    value: str
    errors: list[str]


PLAN_FIELDS = (
    FieldSpec("name", "Name", required=True, placeholder="Fabric A"),
    FieldSpec("description", "Description", kind="textarea"),
    FieldSpec("namespace", "Namespace", help="Kubernetes namespace of the NADs and pods."),
    FieldSpec(
        "supernet",
        "Supernet",
        placeholder="10.50.0.0/13",
        help="Optional. Rails are carved from it: 10.50.0.0/13 by /16 gives 10.50-10.57.",
    ),
    FieldSpec("rail_count", "Rails", kind="number", help="Between 1 and 64."),
    FieldSpec("rail_prefix_length", "Rail prefix length", kind="number", help="e.g. 16 for /16."),
    FieldSpec("cni_type", "CNI type", kind="select", choices=tuple(CNIType.choices)),
    FieldSpec("pod_cidr", "Pod CIDR", help="The cluster's primary (eth0) pod network."),
    FieldSpec("service_cidr", "Service CIDR", placeholder="10.96.0.0/12", help="Optional."),
)
PLAN_DEFAULTS = {
    "namespace": "ai-training",
    "rail_count": "8",
    "rail_prefix_length": "16",
    "cni_type": CNIType.SRIOV,
    "pod_cidr": "10.100.0.0/16",
}
OPTIONAL_NULLABLE = ("supernet", "service_cidr")

EXCLUSION_FIELDS = ("cidr", "start", "end", "purpose", "note")
PURPOSE_CHOICES = tuple(ExclusionPurpose.choices)
DRAG_PURPOSE = ExclusionPurpose.RESERVED
DRAG_NOTE = "Drawn on the IP map"


def bind(specs, data: dict, errors: dict) -> list[BoundField]:
    return [
        BoundField(
            spec, str(data.get(spec.name) or ""), [str(e) for e in errors.get(spec.name, [])]
        )
        for spec in specs
    ]


def other_errors(specs, errors: dict) -> list[str]:
    """Errors of fields the form does not show (e.g. the derived slug), named."""
    shown = {spec.name for spec in specs}
    return [
        f"{name.replace('_', ' ')}: {message}"
        for name, messages in errors.items()
        if name not in shown
        for message in messages
    ]


def typed(post, names) -> dict:
    """The user's input, trimmed, exactly as typed (what the form shows again on error)."""
    return {name: post.get(name, "").strip() for name in names if name in post}


NUMBER_FIELDS = ("rail_count", "rail_prefix_length")


def plan_data(typed_values: dict) -> dict:
    """Serializer input, typed as JSON would be: numbers typed as digits become numbers (anything
    else stays text, for the serializer to refuse by name); blanks of optional CIDRs become
    null, other blanks are dropped."""
    data = {}
    for name, value in typed_values.items():
        if value and name in NUMBER_FIELDS:
            data[name] = numbers.small_int(value, value)
        elif value:
            data[name] = value
        elif name in OPTIONAL_NULLABLE:
            data[name] = None
        elif name == "description":
            data[name] = ""
    return data


def exclusion_data(typed_values: dict) -> dict:
    return {name: value for name, value in typed_values.items() if value}


class DragError(ValueError):
    """A drag whose ends are not addresses of the rail."""


def _address(value: str, name: str, version: int) -> int:
    text = (value or "").strip()
    if not text:
        raise DragError(f"The drag has no {name} address.")
    if text.isascii() and text.isdigit():
        if len(text) > 40:  # an IPv6 address is at most 39 digits
            raise DragError(f"The {name} address is out of range.")
        return int(text)
    try:
        address = ipam.parse_ip(text)
    except ipam.AddressError as error:
        raise DragError(str(error)) from None
    if address.version != version:
        raise DragError(f"{text} is not an IPv{version} address.")
    return int(address)


def dragged_span(post, subnet_span: ipam.Span, version: int) -> ipam.Span:
    """The dragged addresses (integers from the map's script, or address text), snapped to
    CIDR boundaries inside the rail subnet."""
    first = _address(post.get("first", ""), "first", version)
    last = _address(post.get("last", ""), "last", version)
    low, high = min(first, last), max(first, last)
    if high < subnet_span[0] or low > subnet_span[1]:
        raise DragError("The drag lies outside the rail subnet.")
    low, high = max(low, subnet_span[0]), min(high, subnet_span[1])
    return ipam.snap_span(low, high, subnet_span)


def exclusion_for_span(span: ipam.Span, version: int) -> dict:
    """A single CIDR is stored as `cidr`, anything else as start/end."""
    cidrs = ipam.span_to_cidrs(span, version)
    if len(cidrs) == 1:
        return {"cidr": cidrs[0]}
    return {"start": ipam.int_to_ip(span[0], version), "end": ipam.int_to_ip(span[1], version)}
