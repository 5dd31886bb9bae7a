"""Kubernetes' protobuf encoding, read for the one kind clients send only that way: current
kubectl posts a SelfSubjectAccessReview (`kubectl auth can-i`) as
application/vnd.kubernetes.protobuf. The answer goes back as JSON, which it accepts too.

The envelope is the magic b"k8s\\x00" and a runtime.Unknown {typeMeta=1 {apiVersion=1,
kind=2}, raw=2, contentEncoding=3, contentType=4}; raw holds the object's own message.
"""

from __future__ import annotations

MAGIC = b"k8s\x00"
# Field number -> (JSON name, nested message or None) for the messages read here.
_RESOURCE_ATTRIBUTES = {
    1: ("namespace", None),
    2: ("verb", None),
    3: ("group", None),
    4: ("version", None),
    5: ("resource", None),
    6: ("subresource", None),
    7: ("name", None),
}
_NON_RESOURCE_ATTRIBUTES = {1: ("path", None), 2: ("verb", None)}
_OBJECT_META = {1: ("name", None), 2: ("generateName", None), 3: ("namespace", None)}
_REVIEW = {
    1: ("metadata", _OBJECT_META),
    2: (
        "spec",
        {
            1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
            2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
        },
    ),
}
MESSAGES = {("authorization.k8s.io/v1", "SelfSubjectAccessReview"): _REVIEW}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of each field; length-delimited values as bytes."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            value, at = data[at : at + length], at + length
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _message(data: bytes, schema: dict) -> dict:
    result = {}
    for number, wire, value in _fields(data):
        if number not in schema or wire != 2:
            continue
        name, nested = schema[number]
        if nested is None:
            text = value.decode("utf-8")
            if text:  # empty strings are omitted in JSON (omitempty)
                result[name] = text
        else:
            result[name] = _message(value, nested)
    return result


def decode(raw: bytes) -> dict:
    """The JSON form of a protobuf-encoded object of a kind in MESSAGES."""
    if not raw.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    unknown = {number: value for number, _, value in _fields(raw[len(MAGIC) :])}
    type_meta = {number: value for number, _, value in _fields(unknown.get(1, b""))}
    api_version = type_meta.get(1, b"").decode()
    kind = type_meta.get(2, b"").decode()
    schema = MESSAGES.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"{api_version} {kind} is not read as protobuf here")
    return {"apiVersion": api_version, "kind": kind, **_message(unknown.get(2, b""), schema)}
