"""The planner pages' forms: their fields (railstudio.web.forms.FieldSpec) and how their posts
become the API serializers' input.

Validation is the API serializers' job (same errors on the page and the API), as on the cluster
pages: this module only describes fields for the templates and converts what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner import ipam, naming
from planner.models import CNIType, ExclusionPurpose, Plan
from railstudio import numbers
from railstudio.web.forms import FieldSpec, bind, other_errors, typed

__all__ = ["bind", "other_errors", "typed"]  # the pages call them through this module


PLAN_FIELDS = (
    FieldSpec("name", "Name", required=True, placeholder="Fabric A"),
    FieldSpec("description", "Description", kind="textarea"),
    FieldSpec("namespace", "Namespace", help="Kubernetes namespace of the NADs and pods."),
    FieldSpec(
        "supernet",
        "Supernet",
        placeholder="10.50.0.0/13",
        help="Optional. Read as a start address and a size: rails are carved consecutively from "
        "its address, even when that is not a boundary of its prefix (10.50.0.0/13 by /16 gives "
        "10.50-10.57). The preview below says what will be carved.",
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


@dataclass(frozen=True)
class CarvedRail:
    index: int
    subnet: str
    nad_name: str
    resource_name: str
    interface_name: str


@dataclass(frozen=True)
class CarvePreview:
    """What the New-plan form will carve, for its live preview: the rails, or why none."""

    reading: ipam.CarveReading | None = None
    rails: tuple[CarvedRail, ...] = ()
    problem: str = ""  # why nothing can be carved from these values
    empty: bool = False  # no supernet: the plan starts without rails


def _whole(value: str, label: str, low: int, high: int) -> tuple[int | None, str]:
    text = (value or "").strip()
    if not text.isdigit() or not low <= int(text) <= high:
        return None, f"{label} must be a whole number from {low} to {high}."
    return int(text), ""


def carve_preview(values: dict) -> CarvePreview:
    """The rails a plan with these form values gets (default names), or what is wrong."""
    supernet = (values.get("supernet") or "").strip()
    if not supernet:
        return CarvePreview(empty=True)
    count, problem = _whole(values.get("rail_count", ""), "Rails", 1, 64)
    prefix, prefix_problem = _whole(
        values.get("rail_prefix_length", ""), "The prefix length", 1, 128
    )
    if problem or prefix_problem:
        return CarvePreview(problem=problem or prefix_problem)
    try:
        reading = ipam.read_carve(supernet, prefix, count)
    except ipam.AddressError as error:
        return CarvePreview(problem=str(error))
    defaults = {field.name: field.default for field in Plan._meta.fields if field.has_default()}
    rails = tuple(
        CarvedRail(
            index,
            subnet,
            naming.render(defaults["nad_name_template"], index),
            naming.render(defaults["resource_name_template"], index),
            naming.render(defaults["interface_template"], index),
        )
        for index, subnet in enumerate(reading.subnets)
    )
    return CarvePreview(reading=reading, rails=rails)
