"""/openapi/v2, as JSON or as the gnostic protobuf kubectl asks for.

The built-in kinds' paths and definitions are those a real kube-apiserver serves (recorded from
1.20 by tests/labsim/realk8s/record.py into labsim/data/openapi-v2.json); custom resources get
paths and definitions built from their CRD schema the way the apiserver builds them (from a
template recorded from the NAD CRD). So kubectl's dry-run check, diff, explain and client-side
validation work as against a real server.
"""

from __future__ import annotations

import copy
import functools
import json
import struct
from pathlib import Path

DATA = Path(__file__).parent / "data" / "openapi-v2.json"
# Clients ask with "...spec.v2@v1.0+protobuf"; the server answers with the dotted form, which
# Go's mime.ParseMediaType accepts.
PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
OBJECT_META = {
    "description": "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
}
# Which verbs each operation of a path stands for (x-kubernetes-action).
_ACTION_VERBS = {
    "get": "get",
    "list": "list",
    "watch": "watch",
    "watchlist": "watch",
    "post": "create",
    "put": "update",
    "patch": "patch",
    "delete": "delete",
    "deletecollection": "deletecollection",
    "connect": None,
}


@functools.lru_cache(maxsize=1)
def recorded() -> dict:
    return json.loads(DATA.read_text())


# ---------------------------------------------------------------------------------------------
# Custom resources


def crd_names(resource) -> dict[str, str]:
    """The strings a CRD's paths are built from, by placeholder."""
    group_camel = "".join(part[:1].upper() + part[1:] for part in resource.group.split("."))
    return {
        "{definition}": ".".join(reversed(resource.group.split(".")))
        + f".{resource.version}.{resource.kind}",
        "{apis}": f"/apis/{resource.group}/{resource.version}/",
        "{GroupVersion}": group_camel + resource.version[:1].upper() + resource.version[1:],
        "{tag}": group_camel[:1].lower() + group_camel[1:] + "_" + resource.version,
        "{plural}": resource.plural,
        "{Kind}": resource.kind,
    }


def _substitute(value, replacements: list[tuple[str, str]], group: str, version: str):
    if isinstance(value, dict):
        if set(value) == {"group", "kind", "version"}:  # x-kubernetes-group-version-kind
            return {
                "group": group,
                "kind": _substitute(value["kind"], replacements, group, version),
                "version": version,
            }
        return {
            _substitute(k, replacements, group, version): _substitute(
                v, replacements, group, version
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, replacements, group, version) for v in value]
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
    return value


def crd_template(resource, paths: dict, definitions: dict) -> dict:
    """A template of a CRD's paths and list definition, from those a real server built for
    `resource` (see tests/labsim/realk8s/record.py)."""
    names = crd_names(resource)
    replacements = sorted(((v, k) for k, v in names.items()), key=lambda p: -len(p[0]))
    list_name = names["{definition}"] + "List"
    return {
        "paths": _substitute(paths, replacements, "{group}", "{version}"),
        "list": _substitute(definitions[list_name], replacements, "{group}", "{version}"),
    }


def _v2_schema(schema: dict, top: bool = True) -> dict:
    """A CRD's structural v3 schema as /openapi/v2 publishes it (metadata as ObjectMeta)."""
    result = copy.deepcopy(schema)
    if top and isinstance(result.get("properties"), dict) and "metadata" in result["properties"]:
        result["properties"]["metadata"] = dict(OBJECT_META)
    return result


def crd_openapi(resource) -> tuple[dict, dict]:
    """(paths, definitions) for a custom resource, as the apiserver publishes them."""
    names = crd_names(resource)
    template = recorded()["x-crd-template"]
    replacements = list(names.items())
    paths = _substitute(template["paths"], replacements, resource.group, resource.version)
    definition = _v2_schema(resource.schema or {"type": "object"})
    definition["x-kubernetes-group-version-kind"] = [
        {"group": resource.group, "kind": resource.kind, "version": resource.version}
    ]
    list_definition = _substitute(template["list"], replacements, resource.group, resource.version)
    return paths, {
        names["{definition}"]: definition,
        names["{definition}"] + "List": list_definition,
    }


# ---------------------------------------------------------------------------------------------
# The document


def _path_resource(path: str, registry):
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        group, version, rest = parts[1], parts[2], parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] != "status":
        rest = rest[2:]
    return registry.lookup(group, version, rest[0]) if rest else None, rest[2:3]


def _allowed_operations(path: str, item: dict, registry) -> dict | None:
    resource, subresource = _path_resource(path, registry)
    if resource is None:
        return None
    if subresource and subresource[0] not in resource.subresources:
        return None
    kept = {}
    for method, operation in item.items():
        if method == "parameters":
            kept[method] = operation
            continue
        verb = _ACTION_VERBS.get(operation.get("x-kubernetes-action", ""))
        if subresource:
            allowed = subresource[0] != "status" or resource.writable or method == "get"
        else:
            allowed = verb is not None and resource.allows(verb)
        if allowed:
            kept[method] = operation
    return kept if set(kept) - {"parameters"} else None


def json_document(version: str, registry) -> dict:
    data = recorded()
    paths = {}
    for path, item in data["paths"].items():
        kept = _allowed_operations(path, item, registry)
        if kept:
            paths[path] = kept
    definitions = dict(data["definitions"])
    for resource in registry.custom_types:
        crd_paths, crd_definitions = crd_openapi(resource)
        for path, item in crd_paths.items():
            kept = _allowed_operations(path, item, registry)
            if kept:
                paths[path] = kept
        definitions.update(crd_definitions)
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(definitions.items())),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": [{"BearerToken": []}],
    }


# ---------------------------------------------------------------------------------------------
# gnostic protobuf (openapi_v2.Document in github.com/googleapis/gnostic/openapiv2)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, value: str) -> bytes:
    return _field(number, value.encode()) if value else b""


def _bool(number: int, value) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _int(number: int, value) -> bytes:
    return _varint(number << 3) + _varint(int(value)) if value else b""


def _double(number: int, value) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value)) if value else b""


def _any(number: int, value) -> bytes:
    """gnostic's Any: the value as YAML text (JSON is YAML)."""
    return _field(number, _field(2, json.dumps(value).encode()))


def _extensions(number: int, obj: dict) -> bytes:
    return b"".join(
        _field(number, _string(1, key) + _any(2, value))
        for key, value in obj.items()
        if key.startswith("x-")
    )


def _strings(number: int, values) -> bytes:
    return b"".join(_field(number, str(v).encode()) for v in values or [])


# Field numbers of the scalar keys, per message.
_SCHEMA = {
    "$ref": (1, _string), "format": (2, _string), "title": (3, _string),
    "description": (4, _string), "default": (5, _any), "multipleOf": (6, _double),
    "maximum": (7, _double), "exclusiveMaximum": (8, _bool), "minimum": (9, _double),
    "exclusiveMinimum": (10, _bool), "maxLength": (11, _int), "minLength": (12, _int),
    "pattern": (13, _string), "maxItems": (14, _int), "minItems": (15, _int),
    "uniqueItems": (16, _bool), "maxProperties": (17, _int), "minProperties": (18, _int),
    "required": (19, _strings), "discriminator": (26, _string), "readOnly": (27, _bool),
    "example": (30, _any),
}  # fmt: skip
_QUERY = {
    "required": (1, _bool), "in": (2, _string), "description": (3, _string),
    "name": (4, _string), "allowEmptyValue": (5, _bool), "type": (6, _string),
    "format": (7, _string), "collectionFormat": (9, _string), "default": (10, _any),
    "maximum": (11, _double), "exclusiveMaximum": (12, _bool), "minimum": (13, _double),
    "exclusiveMinimum": (14, _bool), "maxLength": (15, _int), "minLength": (16, _int),
    "pattern": (17, _string), "maxItems": (18, _int), "minItems": (19, _int),
    "uniqueItems": (20, _bool), "multipleOf": (22, _double),
}  # fmt: skip
_QUERY_ITEMS, _QUERY_ENUM, _QUERY_EXT = 8, 21, 23
_PATH = {
    "required": (1, _bool), "in": (2, _string), "description": (3, _string),
    "name": (4, _string), "type": (5, _string), "format": (6, _string),
    "collectionFormat": (8, _string), "default": (9, _any), "maximum": (10, _double),
    "exclusiveMaximum": (11, _bool), "minimum": (12, _double), "exclusiveMinimum": (13, _bool),
    "maxLength": (14, _int), "minLength": (15, _int), "pattern": (16, _string),
    "maxItems": (17, _int), "minItems": (18, _int), "uniqueItems": (19, _bool),
    "multipleOf": (21, _double),
}  # fmt: skip
_PATH_ITEMS, _PATH_ENUM, _PATH_EXT = 7, 20, 22
_PRIMITIVES = {
    "type": (1, _string), "format": (2, _string), "collectionFormat": (4, _string),
    "default": (5, _any),
}  # fmt: skip
_OPERATIONS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _scalars(obj: dict, table: dict) -> bytes:
    return b"".join(
        encode(number, obj[key]) for key, (number, encode) in table.items() if key in obj
    )


def _schema(schema: dict) -> bytes:
    out = [_scalars(schema, _SCHEMA)]
    out += [_any(20, value) for value in schema.get("enum") or []]
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        out.append(_field(21, _bool(2, extra) or _varint(2 << 3) + b"\x00"))
    elif isinstance(extra, dict):
        out.append(_field(21, _field(1, _schema(extra))))
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        out.append(_field(22, _strings(1, types)))
    items = schema.get("items")
    if isinstance(items, dict):
        out.append(_field(23, _field(1, _schema(items))))
    elif isinstance(items, list):
        out.append(_field(23, b"".join(_field(1, _schema(i)) for i in items)))
    out += [_field(24, _schema(part)) for part in schema.get("allOf") or []]
    properties = schema.get("properties")
    if isinstance(properties, dict):
        named = b"".join(
            _field(1, _string(1, name) + _field(2, _schema(value)))
            for name, value in properties.items()
        )
        out.append(_field(25, named))
    out.append(_extensions(31, schema))
    return b"".join(out)


def _primitives(items: dict) -> bytes:
    out = [_scalars(items, _PRIMITIVES)]
    if isinstance(items.get("items"), dict):
        out.append(_field(3, _primitives(items["items"])))
    out += [_any(16, value) for value in items.get("enum") or []]
    out.append(_extensions(18, items))
    return b"".join(out)


def _parameter(parameter: dict) -> bytes:
    """A ParametersItem: a reference, a body parameter or a non-body one."""
    if "$ref" in parameter:
        return _field(2, _string(1, parameter["$ref"]) + _string(2, parameter.get("description")))
    where = parameter.get("in")
    if where == "body":
        body = (
            _string(1, parameter.get("description"))
            + _string(2, parameter.get("name"))
            + _string(3, where)
            + _bool(4, parameter.get("required"))
            + (_field(5, _schema(parameter["schema"])) if "schema" in parameter else b"")
            + _extensions(6, parameter)
        )
        return _field(1, _field(1, body))
    if where in ("query", "formData"):
        table, items, enum, ext = _QUERY, _QUERY_ITEMS, _QUERY_ENUM, _QUERY_EXT
    else:
        table, items, enum, ext = _PATH, _PATH_ITEMS, _PATH_ENUM, _PATH_EXT
    sub = [_scalars(parameter, table)]
    if isinstance(parameter.get("items"), dict):
        sub.append(_field(items, _primitives(parameter["items"])))
    sub += [_any(enum, value) for value in parameter.get("enum") or []]
    sub.append(_extensions(ext, parameter))
    kind = {"header": 1, "formData": 2, "query": 3, "path": 4}.get(where, 3)
    return _field(1, _field(2, _field(kind, b"".join(sub))))


def _responses(responses: dict) -> bytes:
    out = []
    for code, response in responses.items():
        if code.startswith("x-"):
            continue
        if "$ref" in response:
            value = _field(2, _string(1, response["$ref"]))
        else:
            body = _string(1, response.get("description"))
            if "schema" in response:
                body += _field(2, _field(1, _schema(response["schema"])))
            value = _field(1, body + _extensions(5, response))
        out.append(_field(1, _string(1, code) + _field(2, value)))
    out.append(_extensions(2, responses))
    return b"".join(out)


def _operation(operation: dict) -> bytes:
    return b"".join(
        [
            _strings(1, operation.get("tags")),
            _string(2, operation.get("summary")),
            _string(3, operation.get("description")),
            _string(5, operation.get("operationId")),
            _strings(6, operation.get("produces")),
            _strings(7, operation.get("consumes")),
            b"".join(_field(8, _parameter(p)) for p in operation.get("parameters") or []),
            _field(9, _responses(operation.get("responses") or {})),
            _strings(10, operation.get("schemes")),
            _bool(11, operation.get("deprecated")),
            _extensions(13, operation),
        ]
    )


def _path_item(item: dict) -> bytes:
    out = [
        _field(number, _operation(item[method]))
        for method, number in _OPERATIONS.items()
        if method in item
    ]
    out += [_field(9, _parameter(p)) for p in item.get("parameters") or []]
    out.append(_extensions(10, item))
    return b"".join(out)


def encode_document(document: dict) -> bytes:
    info = document.get("info") or {}
    paths = b"".join(
        _field(2, _string(1, path) + _field(2, _path_item(item)))
        for path, item in (document.get("paths") or {}).items()
    )
    definitions = b"".join(
        _field(1, _string(1, name) + _field(2, _schema(schema)))
        for name, schema in (document.get("definitions") or {}).items()
    )
    security = b"".join(
        _field(
            12,
            b"".join(
                _field(1, _string(1, name) + _field(2, _strings(1, scopes)))
                for name, scopes in requirement.items()
            ),
        )
        for requirement in document.get("security") or []
    )
    schemes = b"".join(
        _field(
            1,
            _string(1, name)
            + _field(
                2,
                _field(
                    2,
                    _string(1, scheme.get("type"))
                    + _string(2, scheme.get("name"))
                    + _string(3, scheme.get("in"))
                    + _string(4, scheme.get("description")),
                ),
            ),
        )
        for name, scheme in (document.get("securityDefinitions") or {}).items()
    )
    return b"".join(
        [
            _string(1, document.get("swagger", "2.0")),
            _field(2, _string(1, info.get("title")) + _string(2, info.get("version"))),
            _field(8, paths),
            _field(9, definitions),
            security,
            _field(13, schemes) if schemes else b"",
        ]
    )


class OpenApi:
    """The documents of one lab, built on first use."""

    def __init__(self, version: str, registry):
        self.version = version
        self.registry = registry
        self._json: bytes | None = None
        self._protobuf: bytes | None = None

    def json(self) -> bytes:
        if self._json is None:
            document = json_document(self.version, self.registry)
            self._json = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        return self._json

    def protobuf(self) -> bytes:
        if self._protobuf is None:
            self._protobuf = encode_document(json.loads(self.json()))
        return self._protobuf
