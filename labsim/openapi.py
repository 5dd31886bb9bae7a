"""/openapi/v2, as JSON or as the gnostic protobuf kubectl asks for.

The document carries the custom resource schemas (JSON form) but no built-in definitions;
kubectl skips client-side validation for kinds its schema does not describe, so
`kubectl apply` works without `--validate=false`.
"""

# Clients ask with "...spec.v2@v1.0+protobuf"; the server answers with the dotted form, which
# Go's mime.ParseMediaType accepts.
PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(value: int) -> bytes:
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


def protobuf_document(version: str) -> bytes:
    # openapi_v2.Document: swagger = 1, info = 2 (Info: title = 1, version = 2).
    info = _field(1, b"Kubernetes") + _field(2, version.encode())
    return _field(1, b"2.0") + _field(2, info)


def json_document(version: str, registry) -> dict:
    definitions = {}
    for resource in registry.custom_types:
        schema = dict(resource.schema or {"type": "object"})
        schema["x-kubernetes-group-version-kind"] = [
            {"group": resource.group, "kind": resource.kind, "version": resource.version}
        ]
        name = (
            ".".join(reversed(resource.group.split("."))) + f".{resource.version}.{resource.kind}"
        )
        definitions[name] = schema
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {},
        "definitions": definitions,
    }
