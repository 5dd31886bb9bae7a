"""Validation as the apiserver does it: names, labels, CRD schemas (with pruning), pods."""

import re

from labsim.quantity import QuantityError, parse_quantity
from labsim.status import bad_request, invalid

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it "
    "to be set to 1 if it was previously negative)"
)
_OVERCOMMITTABLE = ("cpu", "memory", "ephemeral-storage")
_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def _invalid_value(value) -> str:
    return f'Invalid value: "{value}"'


def name_causes(resource, name: str | None, generate_name: str | None) -> list[tuple]:
    if not name and not generate_name:
        return [
            (
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        ]
    if not name:
        return []
    if resource.plural == "namespaces":
        pattern, message, limit = DNS1123_LABEL, LABEL_MESSAGE, 63
    else:
        pattern, message, limit = DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253
    causes = []
    if len(name) > limit:
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f"{_invalid_value(name)}: must be no more than {limit} characters",
            )
        )
    if not pattern.match(name):
        causes.append(("metadata.name", "FieldValueInvalid", f"{_invalid_value(name)}: {message}"))
    return causes


def label_causes(metadata: dict) -> list[tuple]:
    causes = []
    for key, value in (metadata.get("labels") or {}).items():
        field = "metadata.labels"
        if not isinstance(value, str):
            continue
        if len(value) > 63:
            causes.append(
                (
                    field,
                    "FieldValueInvalid",
                    f"{_invalid_value(value)}: must be no more than 63 characters",
                )
            )
        elif not LABEL_VALUE.match(value):
            causes.append(
                (field, "FieldValueInvalid", f"{_invalid_value(value)}: {LABEL_VALUE_MESSAGE}")
            )
        if not key:
            causes.append(
                (field, "FieldValueInvalid", f"{_invalid_value(key)}: name part must be non-empty")
            )
    return causes


def validate(resource, obj: dict, old: dict | None = None) -> dict:
    """Raise 422 Invalid like the apiserver would; return the object (pruned for CRDs)."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    causes = name_causes(resource, metadata.get("name"), metadata.get("generateName"))
    causes += label_causes(metadata)
    if resource.schema is not None:
        obj = prune(obj, resource.schema)
        causes += schema_causes(obj, resource.schema, "")
    if resource.plural == "pods":
        causes += pod_causes(obj)
        if old is not None and _spec_without_mutable(old) != _spec_without_mutable(obj):
            causes.append(("spec", "FieldValueForbidden", f"Forbidden: {POD_UPDATE_MESSAGE}"))
    if causes:
        raise invalid(resource, name, causes)
    return obj


def prune(obj, schema: dict):
    """Drop fields a structural schema does not know, as the apiserver does for CRDs."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return obj
    if isinstance(obj, dict) and schema.get("type") == "object":
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is None and additional is None:
            return obj
        result = {}
        for key, value in obj.items():
            if properties and key in properties:
                sub = properties[key]
                result[key] = (
                    value if key == "metadata" and not sub.get("properties") else prune(value, sub)
                )
            elif isinstance(additional, dict):
                result[key] = prune(value, additional)
        return result
    if isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"]) for item in obj]
    return obj


def schema_causes(value, schema: dict, path: str) -> list[tuple]:
    expected = schema.get("type")
    actual = _TYPE_NAMES.get(type(value), "object")
    if expected and value is not None:
        matches = actual == expected or (expected == "number" and actual == "integer")
        if not matches:
            return [
                (
                    path,
                    "FieldValueInvalid",
                    f"{_invalid_value(actual)}: {path} in body must be of type {expected}: "
                    f'"{actual}"',
                )
            ]
    causes = []
    if isinstance(value, dict) and expected == "object" and path != "metadata":
        for required in schema.get("required") or []:
            if required not in value:
                causes.append((_join(path, required), "FieldValueRequired", "Required value"))
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            sub = properties.get(key) or (additional if isinstance(additional, dict) else None)
            if sub:
                causes += schema_causes(child, sub, _join(path, key))
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            causes += schema_causes(item, schema["items"], f"{path}[{index}]")
    return causes


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def pod_causes(pod: dict) -> list[tuple]:
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        return [("spec.containers", "FieldValueRequired", "Required value")]
    causes = []
    seen = set()
    for index, container in enumerate(containers):
        prefix = f"spec.containers[{index}]"
        name = container.get("name")
        if not name:
            causes.append((f"{prefix}.name", "FieldValueRequired", "Required value"))
        elif not DNS1123_LABEL.match(name):
            causes.append(
                (f"{prefix}.name", "FieldValueInvalid", f"{_invalid_value(name)}: {LABEL_MESSAGE}")
            )
        elif name in seen:
            causes.append((f"{prefix}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
        seen.add(name)
        if not container.get("image"):
            causes.append((f"{prefix}.image", "FieldValueRequired", "Required value"))
        causes += resource_causes(container.get("resources") or {}, f"{prefix}.resources")
    return causes


def resource_causes(resources: dict, prefix: str) -> list[tuple]:
    limits = parsed_quantities(resources.get("limits"))
    requests = parsed_quantities(resources.get("requests"))
    causes = []
    for resource, amount in {**requests, **limits}.items():
        if resource in _OVERCOMMITTABLE or resource.startswith("hugepages-"):
            continue
        if amount != int(amount):
            causes.append(
                (
                    f"{prefix}.limits[{resource}]",
                    "FieldValueInvalid",
                    f"{_invalid_value(amount)}: must be an integer",
                )
            )
    for resource, amount in requests.items():
        if resource in _OVERCOMMITTABLE or "/" not in resource:
            continue
        if resource not in limits:
            causes.append(
                (
                    f"{prefix}.limits",
                    "FieldValueRequired",
                    "Required value: Limit must be set for non overcommitable resources",
                )
            )
        elif limits[resource] != amount:
            causes.append(
                (
                    f"{prefix}.requests[{resource}]",
                    "FieldValueInvalid",
                    f"{_invalid_value(_fmt(amount))}: must be equal to {resource} limit "
                    f"of {_fmt(limits[resource])}",
                )
            )
    return causes


def _fmt(amount) -> str:
    return str(int(amount)) if amount == int(amount) else str(amount)


def parsed_quantities(values: dict | None) -> dict:
    result = {}
    for resource, raw in (values or {}).items():
        try:
            result[resource] = parse_quantity(raw)
        except QuantityError as error:
            raise bad_request(str(error)) from error
    return result


def _spec_without_mutable(pod: dict) -> dict:
    spec = dict(pod.get("spec") or {})
    for field in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        spec.pop(field, None)
    for field in ("containers", "initContainers"):
        if field in spec:
            spec[field] = [{k: v for k, v in c.items() if k != "image"} for c in spec[field]]
    return spec
