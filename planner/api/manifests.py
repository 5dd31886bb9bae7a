"""The manifests API: a plan's rendered bundle, and preflight over pasted YAML.

`GET /api/plans/{id or slug}/manifests/` renders; `POST /api/preflight/` checks. Both only read,
so viewers may call them. The helpers at the top (`render_kind`, `compact_pod_options`) are shared
with the Manifests page, so the page and the API accept and reject the same input.
"""

from __future__ import annotations

import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from planner import findings, manifests, plancache, yamlio
from planner.api.preflight_io import (
    FindingCountsSerializer,
    FindingSerializer,
    PreflightRequestSerializer,
    PreflightResultSerializer,
    finding_dicts,
    plan_by_key,
    safe_preflight,
)
from planner.models import Plan
from railstudio.parsers import PlainTextParser, YamlTextParser
from railstudio.roles import VIEWER

YAML_CONTENT_TYPE = "application/yaml; charset=utf-8"

# What the `kind` parameter selects. "bundle" is what a rollout applies (render_bundle).
KINDS = {
    "bundle": "Bundle",
    "nads": "NADs",
    "podtemplates": "PodTemplates",
    "pod": "Pod",
    "job": "Job",
}
_POD_RENDERERS = {
    "bundle": manifests.render_pod_templates,
    "podtemplates": manifests.render_pod_templates,
    "pod": manifests.render_pod,
    "job": manifests.render_job,
}
_NETWORK_KINDS = ("bundle", "nads")
_BOOLEAN_TEXT = ("1", "0", "true", "false", "yes", "no", "on", "off")
_NEW_OPTION = re.compile(r"^\s*([a-z_]+)\s*:(.*)$")


class BundleError(Exception):
    """Input the bundle cannot be rendered from: `errors` maps a parameter to its reasons."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(errors)


def compact_pod_options(text: str) -> dict[str, str]:
    """`layout:per-numa,gpus:4,rails:0-3` -> {"layout": "per-numa", "gpus": "4", ...}.

    A comma-separated part starting with `name:` begins an option; any other part continues the
    previous value, so `rails:0,2,gpus:4` and `image:repo/img:tag` read as meant."""
    values: dict[str, str] = {}
    key = None
    for part in text.split(","):
        match = _NEW_OPTION.match(part)
        if match:
            key = match.group(1)
            values[key] = match.group(2).strip()
        elif key is not None:
            values[key] += "," + part.strip()
        elif part.strip():
            raise BundleError({"pod": [f"{part.strip()!r} is not name:value (e.g. gpus:4)"]})
    return values


def pod_strings_from_query(params) -> dict[str, str]:
    """Pod options from `pod=<compact>` plus `pod_<name>=<value>` (these win)."""
    values = compact_pod_options(params.get("pod", ""))
    for name, value in params.items():
        if name.startswith("pod_"):
            values[name[len("pod_") :]] = value
    return values


def pod_options(strings: dict[str, str]) -> dict:
    """Typed pod options from text; raises BundleError for a non-boolean nccl_env."""
    flag = strings.get("nccl_env", "").strip().lower()
    if flag and flag not in _BOOLEAN_TEXT:
        raise BundleError({"pod": [f"pod option nccl_env must be true or false, not {flag!r}"]})
    return manifests.pod_options_from_strings(strings)


def render_kind(spec, mode: str, kind: str, options: dict) -> list[dict]:
    """The objects of `kind` for the plan spec; raises BundleError naming the bad parameter."""
    if mode not in manifests.MODES:
        raise BundleError({"mode": [f"must be one of {', '.join(manifests.MODES)}"]})
    if kind not in KINDS:
        raise BundleError({"kind": [f"must be one of {', '.join(KINDS)}"]})
    problems = manifests.pod_option_errors(spec, options)
    if problems:
        raise BundleError({"pod": problems})
    objects: list[dict] = []
    if kind in _NETWORK_KINDS:
        try:
            objects += manifests.render_networks(spec, mode)
        except manifests.ManifestError as error:
            raise BundleError({"plan": error.errors}) from None
    if kind in _POD_RENDERERS:
        try:
            objects += _POD_RENDERERS[kind](spec, options)
        except manifests.ManifestError as error:
            raise BundleError({"pod": error.errors}) from None
    return objects


# ---------------------------------------------------------------------------------------------
# GET /api/plans/{plan}/manifests/


class ManifestBundleSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="the plan's slug")
    mode = serializers.CharField()
    kind = serializers.CharField()
    pod_options = serializers.DictField(help_text="the pod options given, typed")
    items = serializers.ListField(child=serializers.DictField(), help_text="Kubernetes objects")
    findings = FindingSerializer(many=True, help_text="preflight.check_rendered, errors first")
    counts = FindingCountsSerializer()


_POD_PARAMETERS = [
    OpenApiParameter(
        f"pod_{name}",
        str,
        description=f"pod option {name}: {option.doc} (overrides the same name in `pod`)",
    )
    for name, option in manifests.POD_OPTION_KEYS.items()
]


class PlanManifestsView(APIView):
    """The plan's rendered manifests.

    Query parameters:
    - `format`: `yaml` (default) gives `application/yaml`, multi-document text for
      `kubectl apply -f -`; `json` gives `{"plan": slug, "mode", "kind", "pod_options",
      "items": [objects], "findings": [preflight findings over the bundle], "counts":
      {"error": n, "warning": n, "info": n}}`.
    - `mode`: `nad` (default) or `sriov-operator` (SriovNetworks instead of NADs).
    - `kind`: `bundle` (default: the networks then the PodTemplates, what a rollout applies),
      `nads` (the networks only), `podtemplates`, `pod` or `job`.
    - pod options, compact: `pod=layout:per-numa,gpus:4,rails:0-3,nccl_env:true`; or one each:
      `pod_layout=per-numa&pod_gpus=4`. Both may be given; a `pod_<name>` parameter wins. They
      override the plan's stored pod_options.

    Bad input answers 400 naming the parameter: `{"pod": ["pod option gpus must be ..."]}`,
    `{"mode": [...]}`, `{"kind": [...]}`, `{"format": [...]}`; a plan that cannot be rendered
    at all (its cni_options) gives `{"plan": [...]}`.
    """

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # The body's type follows `format`, not Accept: never 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="plans_manifests",
        parameters=[
            OpenApiParameter("plan", str, OpenApiParameter.PATH, description="plan id or slug"),
            OpenApiParameter("format", str, enum=["yaml", "json"], default="yaml"),
            OpenApiParameter("mode", str, enum=list(manifests.MODES), default="nad"),
            OpenApiParameter("kind", str, enum=list(KINDS), default="bundle"),
            OpenApiParameter(
                "pod",
                str,
                description="compact pod options, e.g. layout:per-numa,gpus:4,rails:0-3,"
                "nccl_env:true",
            ),
            *_POD_PARAMETERS,
        ],
        responses={
            (200, "application/json"): ManifestBundleSerializer,
            (200, "application/yaml"): OpenApiTypes.STR,
            (400, "application/json"): OpenApiTypes.OBJECT,
        },
    )
    def get(self, request, plan):
        plan_obj = plan_by_key(plan, not_found=404)
        params = request.query_params
        output = params.get("format", "yaml")
        if output not in ("yaml", "json"):
            raise ValidationError({"format": ["must be yaml or json"]})
        mode, kind = params.get("mode", "nad"), params.get("kind", "bundle")
        try:
            options = pod_options(pod_strings_from_query(params))
        except BundleError as error:
            raise ValidationError(error.errors) from None
        errors, body = cached_bundle_body(plan_obj, output, mode, kind, options)
        if errors:
            raise ValidationError(errors)
        if output == "yaml":
            return HttpResponse(body, content_type=YAML_CONTENT_TYPE)
        return Response(body)


def cached_bundle_body(plan: Plan, output: str, mode: str, kind: str, options: dict):
    """What the manifests API answers for these parameters, kept per plan revision."""
    revision = plancache.revision_of(plan)
    return plancache.cached(
        plan,
        "manifests-api",
        [output, mode, kind, options],
        lambda: _bundle_body(plan, revision, output, mode, kind, options),
        revision,
    )


def _bundle_body(
    plan: Plan, revision: str | None, output: str, mode: str, kind: str, options: dict
):
    """(errors, None) or (None, the YAML text or the JSON body), for plancache to keep."""
    spec = plancache.spec(plan, revision)
    try:
        objects = render_kind(spec, mode, kind, options)
    except BundleError as error:
        return error.errors, None
    if output == "yaml":
        return None, yamlio.dump_all(objects)
    found = plancache.check_rendered(plan, mode, options, revision)
    return None, {
        "plan": plan.slug,
        "mode": mode,
        "kind": kind,
        "pod_options": options,
        "items": objects,
        "findings": finding_dicts(found),
        "counts": findings.counts(found),
    }


def _yaml_response(objects: list[dict]) -> HttpResponse:
    return HttpResponse(yamlio.dump_all(objects), content_type=YAML_CONTENT_TYPE)


# ---------------------------------------------------------------------------------------------
# POST /api/preflight/


class PreflightView(APIView):
    """Preflight over pasted YAML, with an optional plan and cluster facts as context.

    Body: JSON `{"yaml": "...", "plan": <id or slug>, "facts": {...}}`; or a multipart `file`
    upload (with an optional `plan` field); or the raw YAML itself as `application/yaml` or
    `text/plain` (then `?plan=` names the plan). Answers `{"objects": n, "findings": [...],
    "counts": {"error": n, "warning": n, "info": n}}`, findings sorted errors first.

    Bad YAML gives 400 `{"yaml": ["document 2, line 5: ..."]}`; an unknown plan 400
    `{"plan": [...]}`; bad facts 400 `{"facts": [...]}`. It writes nothing, so viewers may call it.
    """

    write_role = VIEWER
    parser_classes = [JSONParser, FormParser, MultiPartParser, YamlTextParser, PlainTextParser]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="preflight",
        request={
            "application/json": PreflightRequestSerializer,
            "multipart/form-data": inline_serializer(
                "PreflightUpload",
                {"file": serializers.FileField(), "plan": serializers.CharField(required=False)},
            ),
            "application/yaml": OpenApiTypes.STR,
        },
        parameters=[
            OpenApiParameter("plan", str, description="plan id or slug, for a raw YAML body")
        ],
        responses={200: PreflightResultSerializer, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        body = PreflightRequestSerializer(data=_preflight_data(request))
        body.is_valid(raise_exception=True)
        key = body.validated_data.get("plan")
        spec = plancache.spec(plan_by_key(key, not_found=400)) if key not in (None, "") else None
        try:
            objects = yamlio.load_documents(body.validated_data["yaml"])
        except yamlio.YamlInputError as error:
            raise ValidationError({"yaml": [error.describe()]}) from None
        if not objects:
            raise ValidationError({"yaml": ["The input holds no Kubernetes object."]})
        found = safe_preflight(objects, spec, body.validated_data.get("facts"))
        return Response(
            {
                "objects": len(objects),
                "findings": finding_dicts(found),
                "counts": findings.counts(found),
            }
        )


def _preflight_data(request) -> dict:
    data = request.data
    if isinstance(data, str):
        return {"yaml": data, "plan": request.query_params.get("plan")}
    upload = request.FILES.get("file")
    if upload is not None:
        raw = upload.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"yaml": ["the uploaded file is not UTF-8 text"]}) from None
        return {"yaml": text, "plan": data.get("plan") or request.query_params.get("plan")}
    if not hasattr(data, "get"):
        raise ValidationError({"yaml": ['Send {"yaml": "..."} or the YAML itself.']})
    merged = {key: data.get(key) for key in ("yaml", "plan", "facts") if key in data}
    if "plan" not in merged and request.query_params.get("plan"):
        merged["plan"] = request.query_params["plan"]
    return merged
