"""What every API operation may answer besides its success, added to the OpenAPI document.

drf-spectacular describes success bodies; the refusals come from layers it does not see
(authentication, roles, lookups, parsers, the body-size limit, the database's constraints).
`add_error_responses` is a postprocessing hook that documents them per operation, by the rules
those layers follow, without overwriting what a view declared itself:

  401, 403   every operation (token or session auth; roles)
  404        operations with path parameters (the object does not exist)
  400        operations with parameters or a body (a field-by-field reason, or the parse error)
  409        POST/PUT/PATCH (state conflicts, e.g. a rollout already running; a constraint that
             fired when two writes raced), in human words
  413, 415   operations with a body (over RAILSTUDIO_MAX_BODY_BYTES; a media type not listed)
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "why, in human words"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": 'Reasons by field: {"field": ["reason", ...]} (imports use paths such as '
    '"rails.2.subnet"), or {"detail": "..."} when the body cannot be parsed at all.',
    "additionalProperties": True,
}
DESCRIPTIONS = {
    400: "Bad input: the reasons name each field or parameter.",
    401: "No valid credentials (send `Authorization: Token <key>` or log in).",
    403: "Your role does not allow this.",
    404: "No such object.",
    409: "Conflicts with the current state (or with a write made at the same moment).",
    413: "The request body is larger than RAILSTUDIO_MAX_BODY_BYTES.",
    415: "The body's media type is not one this operation reads.",
    502: "The cluster did not answer.",
    503: "The task queue (Celery broker) cannot be reached; nothing was queued.",
}
WRITES = {"post", "put", "patch"}


def _response(status: int) -> dict:
    schema = "ValidationError" if status == 400 else "Error"
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def statuses_for(method: str, operation: dict) -> set[int]:
    has_body = "requestBody" in operation
    parameters = operation.get("parameters") or []
    codes = {401, 403}
    if any(parameter.get("in") == "path" for parameter in parameters):
        codes.add(404)
    if has_body or parameters:
        codes.add(400)
    if method in WRITES:
        codes.add(409)
    if has_body:
        codes |= {413, 415}
    return codes


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationError", VALIDATION_ERROR)
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in sorted(statuses_for(method, operation)):
                responses.setdefault(str(status), _response(status))
    return result


def detail(status: int, description: str | None = None):
    """A `{"detail": "..."}` answer, for a view's own `responses={...}`."""
    from drf_spectacular.utils import OpenApiResponse

    return OpenApiResponse(
        response=DetailSerializer, description=description or DESCRIPTIONS[status]
    )


def _detail_serializer():
    from rest_framework import serializers

    class DetailSerializer(serializers.Serializer):
        detail = serializers.CharField(help_text="why, in human words")

    return DetailSerializer


DetailSerializer = _detail_serializer()
