"""The validation API: start one on a cluster, read runs, cancel.

    POST /api/clusters/{id}/validations/ {"plan": <id|slug>, "mode": "quick|full|strict",
                                          "nodes": [...], "keep_probe": false}  -> 202
    GET  /api/clusters/{id}/validations/
    GET  /api/validations/?cluster=&plan=
    GET  /api/validations/{id}/          (?matrices=0 leaves the matrices out)
    POST /api/validations/{id}/cancel/   -> 202
Viewers read; operators start and cancel.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters.api.validation_serializers import (
    ValidationDetailSerializer,
    ValidationRequestSerializer,
    ValidationSerializer,
)
from clusters.models import Cluster, Validation
from clusters.validation import liveness, runner, services
from railstudio.roles import OPERATOR


def previous_run(validation: Validation) -> Validation | None:
    """The run of the same plan on the same cluster before this one, that finished."""
    return (
        Validation.objects.filter(
            cluster_id=validation.cluster_id,
            plan_slug=validation.plan_slug,
            created_at__lt=validation.created_at,
            state="succeeded",
        )
        .only("id", "findings", "summary", "nodes", "created_at", "mode")
        .first()
    )


class ClusterValidationsView(APIView):
    write_role = OPERATOR

    @extend_schema(responses={200: ValidationSerializer(many=True)})
    def get(self, request, pk):
        cluster = get_object_or_404(Cluster, pk=pk)
        runs = cluster.validations.select_related("created_by")[:100]
        return Response(ValidationSerializer(runs, many=True).data)

    @extend_schema(request=ValidationRequestSerializer, responses={202: ValidationSerializer})
    def post(self, request, pk):
        cluster = get_object_or_404(Cluster, pk=pk)
        body = ValidationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        try:
            plan, mode, nodes = services.check_request(cluster, data)
        except services.RequestInvalid as error:
            raise ValidationError(error.errors) from None
        try:
            with transaction.atomic():
                run = services.start(
                    cluster, plan, request.user, mode=mode, nodes=nodes,
                    keep_probe=data.get("keep_probe", False),
                )  # fmt: skip
        except runner.ValidationConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(ValidationSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ValidationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Validation runs: `?cluster=<id>&plan=<id or slug>`."""

    queryset = Validation.objects.select_related("created_by")
    write_role = OPERATOR
    extra_query_params = ("cluster", "plan")

    def get_serializer_class(self):
        return ValidationDetailSerializer if self.action == "retrieve" else ValidationSerializer

    def get_queryset(self):
        liveness.reap()  # show runs whose worker died as ended, not running
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.defer("findings", "facts")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("rails")
        params = self.request.query_params
        cluster, plan = params.get("cluster"), params.get("plan")
        if cluster:
            if not cluster.isdigit():
                raise ValidationError({"cluster": ["A cluster id is a whole number."]})
            queryset = queryset.filter(cluster_id=cluster)
        if plan:
            if len(plan) > 63:
                raise ValidationError({"plan": ["A plan id or slug has at most 63 characters."]})
            queryset = (
                queryset.filter(plan_id=plan) if plan.isdigit() else queryset.filter(plan_slug=plan)
            )
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "retrieve":
            context["matrices"] = self.request.query_params.get("matrices") not in ("0", "false")
        return context

    @extend_schema(
        parameters=[OpenApiParameter("matrices", str, description="0: leave matrices out")]
    )
    def retrieve(self, request, *args, **kwargs):
        run = self.get_object()
        previous = previous_run(run)
        context = {
            **self.get_serializer_context(),
            "previous_id": previous.pk if previous else None,
        }
        return Response(ValidationDetailSerializer(run, context=context).data)

    @extend_schema(request=None, responses={202: ValidationSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = runner.cancel(self.get_object())
        return Response(ValidationSerializer(run).data, status=status.HTTP_202_ACCEPTED)
