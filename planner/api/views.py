from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from planner import (
    allocation,
    documents,
    exports,
    freespace,
    import_jobs,
    inventory,
    ipam,
    services,
)
from planner.api import responses
from planner.api.filters import ExclusionFilter, NodeFilter, NodeNICFilter, RailFilter
from planner.api.imports import InventoryImportSerializer
from planner.api.serializers import (
    AllocateSerializer,
    ExclusionSerializer,
    NodeNICSerializer,
    NodeSerializer,
    PlanSerializer,
    PrefixRequestSerializer,
    RailSerializer,
)
from planner.models import Exclusion, Node, NodeNIC, Plan, Rail
from railstudio import datalimits, numbers, openapi, rows, uploads
from railstudio.lookups import IdLookupMixin
from railstudio.parsers import PlainTextParser, SafeJSONParser, YamlTextParser

MAX_AVAILABLE_LIMIT = 10_000
UPLOAD_PARSERS = [SafeJSONParser, MultiPartParser, YamlTextParser, PlainTextParser]


class AtomicWritesMixin:
    # Validation and the write in one transaction, so the row locks the serializers take
    # (planner.locks) hold until the write is committed.

    def create(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().create(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)


PLAN_KEY = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="plan id or slug", pattern=r"^[a-z0-9-]+$"
)
PLAN_DOCUMENT = {
    "type": "object",
    "description": "a plan document as `GET /api/plans/{id}/export/?format=json` gives it: "
    '{"apiVersion", "kind": "RailStudioPlan", "plan": {...}, "rails": [...], "nodes": [...]}, '
    'or {"document": "<the same as YAML or JSON text>"}',
}


@extend_schema_view(
    **{
        name: extend_schema(parameters=[PLAN_KEY])
        for name in (
            "retrieve",
            "update",
            "partial_update",
            "destroy",
            "utilization",
            "export",
            "allocate_host_ips",
            "import_nodes",
        )
    }  # fmt: skip
)
class PlanViewSet(AtomicWritesMixin, viewsets.ModelViewSet):
    """Plans, addressable by id or by slug."""

    queryset = Plan.objects.all()
    serializer_class = PlanSerializer
    filterset_fields = ["name", "slug", "namespace", "cni_type"]

    def get_object(self):
        key = self.kwargs["pk"]
        lookup = {"pk": key} if numbers.is_id(key) else {"slug": key}
        plan = get_object_or_404(self.get_queryset(), **lookup)
        self.check_object_permissions(self.request, plan)
        return plan

    @extend_schema(responses=responses.UtilizationSerializer)
    @action(detail=True, methods=["get"])
    def utilization(self, request, pk=None):
        plan = self.get_object()
        states = services.rail_states(plan)
        return Response(
            {
                "plan": plan.id,
                "rails": services.usages(states),
                "warnings": services.capacity_warnings(states),
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["yaml", "json"], default="yaml")],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, "the plan document"),
            (200, "application/yaml"): OpenApiResponse(OpenApiTypes.STR, "the plan as YAML"),
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """The whole plan as one document, downloaded as `<slug>.yaml` (or `.json`)."""
        output = request.query_params.get("format", "yaml")
        if output not in ("yaml", "json"):
            raise ValidationError({"format": ["must be yaml or json"]})
        plan = self.get_object()
        content_type = "application/json" if output == "json" else "application/yaml"
        response = HttpResponse(exports.export_text(plan, output), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{plan.slug}.{output}"'
        return response

    @extend_schema(
        parameters=[],
        request={
            "application/json": PLAN_DOCUMENT,
            "multipart/form-data": responses.UploadSerializer,
            "application/yaml": OpenApiTypes.STR,
            "text/plain": OpenApiTypes.STR,
        },
        responses={201: PlanSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=UPLOAD_PARSERS,
    )
    def import_plan(self, request):
        document = _document_from_request(request)
        try:
            plan = documents.import_plan(document)
        except documents.DocumentError as error:
            raise ValidationError(error.errors) from None
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: responses.AllocatedSerializer, 409: openapi.detail(409, "No room.")},
    )
    @action(detail=True, methods=["post"], url_path="allocate-host-ips")
    def allocate_host_ips(self, request, pk=None):
        plan = self.get_object()
        try:
            given = allocation.allocate_plan(plan)
        except allocation.NoRoom as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(
            {"allocated": {str(k): v for k, v in given.items()}, "total": sum(given.values())}
        )

    @extend_schema(
        request={
            "application/json": responses.InventoryTextSerializer,
            "multipart/form-data": responses.UploadSerializer,
            "application/yaml": OpenApiTypes.STR,
            "text/plain": OpenApiTypes.STR,
        },
        responses={
            200: responses.ImportCountsSerializer,
            202: OpenApiResponse(
                InventoryImportSerializer,
                "a file over RAILSTUDIO_SYNC_IMPORT_BYTES: queued; poll `url`",
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import-nodes",
        parser_classes=UPLOAD_PARSERS,
    )
    def import_nodes(self, request, pk=None):
        """Node/NIC inventory as CSV or YAML: a `file` upload, `{"text": ...}` or the raw body."""
        plan = self.get_object()
        upload = request.FILES.get("file")
        if upload is not None:
            text, filename = _upload_text(upload), upload.name
        elif isinstance(request.data, str):
            text, filename = request.data, ""
        elif isinstance(request.data, dict) and "text" in request.data:
            body = responses.InventoryTextSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            text, filename = body.validated_data["text"], body.validated_data.get("filename", "")
        else:
            raise ValidationError({"file": ['Upload a CSV or YAML file, or send {"text": ...}.']})
        if import_jobs.runs_in_worker(text):
            body = import_jobs.status(import_jobs.start(plan, text, filename, request.user))
            return Response(
                body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]}
            )
        try:
            counts = inventory.import_nodes(plan, inventory.parse(text, filename))
        except inventory.InventoryError as error:
            raise ValidationError(error.errors) from None
        return Response(counts)


def _upload_text(upload, field: str = "file") -> str:
    try:
        return uploads.upload_text(upload)
    except uploads.UploadError as error:
        raise ValidationError({field: [str(error)]}) from None


def _document_from_request(request) -> dict:
    data = request.data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is not None:
        text = _upload_text(upload)
    elif isinstance(data, str):
        text = data
    elif hasattr(data, "get") and isinstance(data.get("document"), str):
        text = data["document"]
    elif isinstance(data, dict) and "plan" in data:
        return dict(data)
    else:
        raise ValidationError(
            {"document": ["Send a plan document: JSON, YAML, or a 'file' upload."]}
        )
    try:
        document = datalimits.load_yaml(text)
    except datalimits.LimitError as error:
        raise ValidationError({"document": [f"The document cannot be read: {error}."]}) from None
    if not isinstance(document, dict):
        raise ValidationError({"document": ["Expected a plan document (a mapping with 'plan')."]})
    return document


class RailViewSet(IdLookupMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Rail.objects.select_related("plan")
    serializer_class = RailSerializer
    filterset_class = RailFilter
    LOCKING_ACTIONS = ("available_ips", "available_prefixes")  # their POSTs write to the rail

    def get_object(self):
        if self.action not in self.LOCKING_ACTIONS:
            return super().get_object()
        # The IPAM calls read the rail alone, in one written-out query (railstudio.rows); a
        # POST reads it locked (planner.locks) inside the action's transaction: one read of the
        # row instead of a read and then a lock.
        key = self._rail_key()
        lock = self.request.method == "POST"
        return self._permitted(None if key is None else rows.by_pk(Rail, key, lock=lock))

    def _rail_key(self) -> int | None:
        return numbers.small_int(self.kwargs.get("pk", ""))

    def _permitted(self, rail: Rail | None) -> Rail:
        if rail is None:
            raise Http404
        self.check_object_permissions(self.request, rail)
        return rail

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_AVAILABLE_LIMIT},
                description="how many addresses (default 10)",
            )
        ],
        responses=responses.AvailableIPsSerializer,
    )
    @extend_schema(
        methods=["POST"],
        request=AllocateSerializer,
        responses={
            201: responses.AllocationsSerializer,
            409: openapi.detail(409, "The rail has too few free addresses; none were given."),
        },
    )
    @action(detail=True, methods=["get", "post"], url_path="available-ips")
    def available_ips(self, request, pk=None):
        if request.method == "POST":
            with transaction.atomic():
                return self._allocate(self.get_object(), request)
        try:
            limit = _int_param(request, "limit", 10, 1, MAX_AVAILABLE_LIMIT)
        except ValidationError:
            self.get_object()  # a rail that does not exist is a 404 first
            raise
        key = self._rail_key()
        rail, spans = (None, []) if key is None else freespace.rail_with_first_free(key, limit)
        rail = self._permitted(rail)
        version = 4 if freespace.is_v4(rail) else 6
        return Response(
            {
                "rail": rail.id,
                "count": ipam.size(spans),
                "ranges": ipam.spans_as_text(spans, version),
                "addresses": ipam.expand(spans, version),
            }
        )

    def _allocate(self, rail, request):
        body = AllocateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            given = allocation.allocate_on_locked_rail(
                rail, body.validated_data["count"], body.validated_data.get("nics")
            )
        except allocation.NoRoom as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except allocation.NotEnoughNICs as error:
            raise ValidationError({"count": [str(error)]}) from None
        return Response(
            {"allocations": [a.to_dict() for a in given]}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter(
                "prefix_length",
                {"type": "integer", "minimum": 1, "maximum": 128},
                description="from the rail's own prefix length to 32 (IPv4) or 128 (IPv6); "
                "default 24",
            )
        ],
        responses=responses.AvailablePrefixSerializer,
    )
    @extend_schema(
        methods=["POST"],
        request=PrefixRequestSerializer,
        responses={
            201: ExclusionSerializer,
            409: openapi.detail(409, "No block of that length is free."),
        },
    )
    @action(detail=True, methods=["get", "post"], url_path="available-prefixes")
    def available_prefixes(self, request, pk=None):
        if request.method == "POST":
            with transaction.atomic():
                return self._carve(self.get_object(), request)
        rail = self.get_object()
        length = _int_param(request, "prefix_length", 24, 1, 128)
        _check_prefix_length(rail, length)
        prefix = freespace.next_free_prefix(rail, length)
        return Response({"rail": rail.id, "prefix_length": length, "prefix": prefix})

    def _carve(self, rail, request):
        """Exclude the rail's next free block of the asked length (the rail is locked)."""
        body = PrefixRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        length = body.validated_data["prefix_length"]
        _check_prefix_length(rail, length)
        prefix = freespace.next_free_prefix(rail, length)
        if prefix is None:
            return Response(
                {"detail": f"Rail {rail.index} has no free /{length}."},
                status=status.HTTP_409_CONFLICT,
            )
        exclusion = Exclusion.objects.create(
            rail=rail,
            cidr=prefix,
            purpose=body.validated_data["purpose"],
            note=body.validated_data["note"],
        )
        return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


def _check_prefix_length(rail: Rail, length: int) -> None:
    """A block of the rail: from the rail's own prefix length to the family's width."""
    network = ipam.parse_network(rail.subnet)
    width = 32 if network.version == 4 else 128
    if not network.prefixlen <= length <= width:
        raise ValidationError(
            {
                "prefix_length": [
                    f"Rail {rail.index} ({rail.subnet}) holds blocks from /{network.prefixlen} "
                    f"to /{width}, not /{length}."
                ]
            }
        )


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, default)
    text = str(raw).strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        raise ValidationError({name: [f"'{text[:40]}' is not a whole number."]})
    value = int(text)
    if not low <= value <= high:
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


class ExclusionViewSet(IdLookupMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Exclusion.objects.select_related("rail")
    serializer_class = ExclusionSerializer
    filterset_class = ExclusionFilter


class NodeViewSet(IdLookupMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = Node.objects.all()
    serializer_class = NodeSerializer
    filterset_class = NodeFilter


class NodeNICViewSet(IdLookupMixin, AtomicWritesMixin, viewsets.ModelViewSet):
    queryset = NodeNIC.objects.select_related("node", "rail")
    serializer_class = NodeNICSerializer
    filterset_class = NodeNICFilter
