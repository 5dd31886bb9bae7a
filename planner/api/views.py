import yaml
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from planner import allocation, documents, inventory, ipam, services
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
from railstudio.parsers import PlainTextParser, YamlTextParser

MAX_AVAILABLE_LIMIT = 10_000


class PlanViewSet(viewsets.ModelViewSet):
    """Plans, addressable by id or by slug."""

    queryset = Plan.objects.all()
    serializer_class = PlanSerializer
    filterset_fields = ["name", "slug", "namespace", "cni_type"]

    def get_object(self):
        key = self.kwargs["pk"]
        lookup = {"pk": key} if str(key).isdigit() else {"slug": key}
        plan = get_object_or_404(self.get_queryset(), **lookup)
        self.check_object_permissions(self.request, plan)
        return plan

    @action(detail=True, methods=["get"])
    def utilization(self, request, pk=None):
        plan = self.get_object()
        return Response(
            {
                "plan": plan.id,
                "rails": services.rail_usages(plan),
                "warnings": services.plan_warnings(plan),
            }
        )

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["yaml", "json"])])
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """The whole plan as one document, downloaded as `<slug>.yaml` (or `.json`)."""
        plan = self.get_object()
        document = documents.export_plan(plan)
        if request.query_params.get("format", "yaml") == "json":
            response = Response(document)
            extension = "json"
        else:
            response = HttpResponse(
                yaml.safe_dump(document, sort_keys=False, default_flow_style=False),
                content_type="application/yaml",
            )
            extension = "yaml"
        response["Content-Disposition"] = f'attachment; filename="{plan.slug}.{extension}"'
        return response

    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[JSONParser, FormParser, MultiPartParser, YamlTextParser, PlainTextParser],
    )
    def import_plan(self, request):
        document = _document_from_request(request)
        try:
            plan = documents.import_plan(document)
        except documents.DocumentError as error:
            raise ValidationError(error.errors) from None
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)

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

    @action(
        detail=True,
        methods=["post"],
        url_path="import-nodes",
        parser_classes=[JSONParser, FormParser, MultiPartParser, YamlTextParser, PlainTextParser],
    )
    def import_nodes(self, request, pk=None):
        """Node/NIC inventory as CSV or YAML: a `file` upload, `{"text": ...}` or the raw body."""
        plan = self.get_object()
        upload = request.FILES.get("file")
        if upload is not None:
            text, filename = upload.read().decode("utf-8", errors="replace"), upload.name
        elif isinstance(request.data, str):
            text, filename = request.data, ""
        elif hasattr(request.data, "get") and isinstance(request.data.get("text"), str):
            text, filename = request.data["text"], request.data.get("filename", "")
        else:
            raise ValidationError({"file": ['Upload a CSV or YAML file, or send {"text": ...}.']})
        try:
            counts = inventory.import_nodes(plan, inventory.parse(text, filename))
        except inventory.InventoryError as error:
            raise ValidationError(error.errors) from None
        return Response(counts)


def _document_from_request(request) -> dict:
    data = request.data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is not None:
        text = upload.read().decode("utf-8", errors="replace")
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
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValidationError({"document": [f"Not valid YAML or JSON: {error}"]}) from None
    if not isinstance(document, dict):
        raise ValidationError({"document": ["Expected a plan document (a mapping with 'plan')."]})
    return document


class RailViewSet(viewsets.ModelViewSet):
    queryset = Rail.objects.select_related("plan")
    serializer_class = RailSerializer
    filterset_fields = ["plan", "index"]

    @extend_schema(parameters=[OpenApiParameter("limit", int)], request=AllocateSerializer)
    @action(detail=True, methods=["get", "post"], url_path="available-ips")
    def available_ips(self, request, pk=None):
        rail = self.get_object()
        if request.method == "POST":
            return self._allocate(rail, request)
        limit = _int_param(request, "limit", 10, 1, MAX_AVAILABLE_LIMIT)
        space = rail.space()
        spans = space.first_free(limit)
        return Response(
            {
                "rail": rail.id,
                "count": ipam.size(spans),
                "ranges": ipam.spans_as_text(spans, space.version),
                "addresses": ipam.expand(spans, space.version),
            }
        )

    def _allocate(self, rail, request):
        body = AllocateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            given = allocation.allocate_on_rail(
                rail.id, body.validated_data["count"], body.validated_data.get("nics")
            )
        except allocation.NoRoom as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except allocation.NotEnoughNICs as error:
            raise ValidationError({"count": [str(error)]}) from None
        return Response(
            {"allocations": [a.to_dict() for a in given]}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        parameters=[OpenApiParameter("prefix_length", int)], request=PrefixRequestSerializer
    )
    @action(detail=True, methods=["get", "post"], url_path="available-prefixes")
    def available_prefixes(self, request, pk=None):
        rail = self.get_object()
        if request.method == "GET":
            length = _int_param(request, "prefix_length", 24, 1, 128)
            prefix = rail.space().next_free_prefix(length)
            return Response({"rail": rail.id, "prefix_length": length, "prefix": prefix})
        body = PrefixRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            locked = Rail.objects.select_for_update().get(pk=rail.pk)
            prefix = locked.space().next_free_prefix(body.validated_data["prefix_length"])
            if prefix is None:
                return Response(
                    {
                        "detail": f"Rail {rail.index} has no free /{body.validated_data['prefix_length']}."
                    },
                    status=status.HTTP_409_CONFLICT,
                )
            exclusion = Exclusion.objects.create(
                rail=locked,
                cidr=prefix,
                purpose=body.validated_data["purpose"],
                note=body.validated_data["note"],
            )
        return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: [f"'{raw}' is not a whole number."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


class ExclusionViewSet(viewsets.ModelViewSet):
    queryset = Exclusion.objects.select_related("rail")
    serializer_class = ExclusionSerializer
    filterset_fields = {"rail": ["exact"], "rail__plan": ["exact"], "purpose": ["exact"]}


class NodeViewSet(viewsets.ModelViewSet):
    queryset = Node.objects.all()
    serializer_class = NodeSerializer
    filterset_fields = ["plan", "name"]


class NodeNICViewSet(viewsets.ModelViewSet):
    queryset = NodeNIC.objects.select_related("node", "rail")
    serializer_class = NodeNICSerializer
    filterset_fields = {
        "node": ["exact"],
        "rail": ["exact"],
        "node__plan": ["exact"],
        "host_ip": ["exact", "isnull"],
    }
