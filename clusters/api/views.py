import re

import yaml
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import discovery, facts, rollout, services, snapshots, tasks
from clusters.api.serializers import (
    ClusterSerializer,
    ExecRequestSerializer,
    ExecRunSerializer,
    FanOutRequestSerializer,
    RolloutDetailSerializer,
    RolloutRequestSerializer,
    RolloutSerializer,
)
from clusters.kube import KubeError
from clusters.models import Cluster, ExecRun, Rollout
from planner import findings, inventory, yamlio
from planner.api.manifests import (
    PreflightRequestSerializer,
    PreflightResultSerializer,
    finding_dicts,
    plan_by_key,
    safe_preflight,
)
from planner.models import Plan
from railstudio.permissions import OperatorOnly
from railstudio.roles import OPERATOR, VIEWER


class ClusterViewSet(viewsets.ModelViewSet):
    """Clusters: viewers read; operators register, edit, test, roll out."""

    queryset = Cluster.objects.prefetch_related("plans")
    serializer_class = ClusterSerializer
    write_role = OPERATOR
    # Reading pods or NADs changes nothing on the cluster.
    action_write_roles = {"refresh": VIEWER, "preflight": VIEWER}
    filterset_fields = ["name", "is_lab", "drifted", "reachable"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        plans = data.pop("plans", [])
        try:
            cluster = services.register(**data)
        except services.RegistrationError as error:
            raise ValidationError(error.errors) from None
        cluster.plans.set(plans)
        serializer.instance = cluster

    def perform_update(self, serializer):
        data = serializer.validated_data
        if "kubeconfig" in data and data["kubeconfig"]:
            try:
                context, server = services.check_kubeconfig(data["kubeconfig"], data.get("context"))
            except services.RegistrationError as error:
                raise ValidationError(error.errors) from None
            serializer.instance.set_kubeconfig(data.pop("kubeconfig"))
            serializer.instance.server = server
            data["context"] = context
        data.pop("kubeconfig", None)
        serializer.save()

    @extend_schema(request=None, responses={202: ClusterSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        cluster = self.get_object()
        services.enqueue(lambda: tasks.test_connection.delay(cluster.pk))
        return Response(
            {"queued": "test-connection", "cluster": cluster.pk}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        cluster = self.get_object()
        services.enqueue(lambda: tasks.discover_nodes.delay(cluster.pk))
        return Response(
            {"queued": "discover", "cluster": cluster.pk}, status=status.HTTP_202_ACCEPTED
        )

    @action(detail=True, methods=["get"])
    def discovery(self, request, pk=None):
        """What node discovery found; with `?plan=<id or slug>`, the planned-vs-discovered diff."""
        cluster = self.get_object()
        body = {"discovered_at": cluster.discovered_at, "nodes": cluster.discovery}
        key = request.query_params.get("plan")
        if key:
            plan = _plan_or_400(key)
            body["diff"] = discovery.compare(plan.to_spec(), cluster.discovery)
        return Response(body)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="discovery/import")
    def import_discovery(self, request, pk=None):
        """Write the discovered nodes and NICs into a plan's inventory (`{"plan": ...}`)."""
        cluster = self.get_object()
        plan = _plan_or_400(str(request.data.get("plan", "")))
        if not cluster.discovery:
            raise ValidationError({"plan": ["Nothing discovered yet: run discovery first."]})
        documents = discovery.inventory_nodes(plan.to_spec(), cluster.discovery)
        try:
            counts = inventory.import_nodes(plan, inventory.parse_yaml(yaml.safe_dump(documents)))
        except inventory.InventoryError as error:
            raise ValidationError(error.errors) from None
        return Response(counts)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Take a new pod-inspection snapshot (a Celery task)."""
        cluster = self.get_object()
        services.enqueue(lambda: tasks.refresh_pods.delay(cluster.pk))
        return Response(
            {"queued": "refresh", "cluster": cluster.pk}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        request=PreflightRequestSerializer,
        responses={
            200: PreflightResultSerializer,
            400: OpenApiTypes.OBJECT,
            502: OpenApiTypes.OBJECT,
        },
    )
    @action(detail=True, methods=["post"])
    def preflight(self, request, pk=None):
        """Preflight over `{"yaml": "...", "plan": <id or slug, optional>}` against the
        cluster's live NADs (every namespace) and nodes, read now within a few seconds. 502 with
        the reason when the cluster does not answer. (POST /api/preflight/ takes facts you
        give instead.)"""
        cluster = self.get_object()
        body = PreflightRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("facts"):
            raise ValidationError(
                {"facts": ["The facts come from the cluster; POST /api/preflight/ takes yours."]}
            )
        key = body.validated_data.get("plan")
        spec = plan_by_key(key, not_found=400).to_spec() if key not in (None, "") else None
        try:
            objects = yamlio.load_documents(body.validated_data["yaml"])
        except yamlio.YamlInputError as error:
            raise ValidationError({"yaml": [error.describe()]}) from None
        try:
            live = facts.read_live_facts(rollout.target_for(cluster))
        except KubeError as error:
            return Response(
                {"detail": f"Could not read the NADs of {cluster.name}: {error}"},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        found = safe_preflight(objects, spec, live.facts)
        return Response(
            {
                "objects": len(objects),
                "findings": finding_dicts(found),
                "counts": findings.counts(found),
                "cluster": {
                    "nads": live.nads,
                    "namespaces": live.namespaces,
                    "nodes": live.nodes,
                    "multus": live.multus,
                },
            }
        )

    @extend_schema(
        operation_id="clusters_pods_list",  # both pod actions would be clusters_pods_retrieve
        parameters=[
            OpenApiParameter("namespace", str),
            OpenApiParameter("node", str),
            OpenApiParameter("problem", str, description="any | none | a finding code"),
        ],
    )
    @action(detail=True, methods=["get"])
    def pods(self, request, pk=None):
        """Pods that ask for secondary networks, from the last snapshot."""
        cluster = self.get_object()
        rows = cluster.pods.all()
        params = request.query_params
        if params.get("namespace"):
            rows = rows.filter(namespace=params["namespace"])
        if params.get("node"):
            rows = rows.filter(node=params["node"])
        problem = params.get("problem")
        if problem in ("any", "true", "1"):
            rows = rows.filter(ok=False)
        elif problem in ("none", "false", "0"):
            rows = rows.filter(ok=True)
        elif problem:
            rows = rows.filter(codes__regex=rf"(^| ){re.escape(problem.upper())}( |$)")
        page = self.paginate_queryset(
            rows.values("namespace", "name", "node", "phase", "ok", "problems", "codes")
        )
        for row in page:
            row["codes"] = row["codes"].split()
        response = self.get_paginated_response(page)
        response.data["snapshot"] = _snapshot_meta(cluster)
        return response

    @action(detail=True, methods=["get"], url_path=r"pods/(?P<namespace>[^/]+)/(?P<pod>[^/]+)")
    def pod(self, request, pk=None, namespace=None, pod=None):
        """One pod: interfaces, comparison with the plan, diagnosis."""
        cluster = self.get_object()
        row = get_object_or_404(cluster.pods, namespace=namespace, name=pod)
        return Response({**row.report, "snapshot": _snapshot_meta(cluster)})

    @extend_schema(request=ExecRequestSerializer, responses={200: ExecRunSerializer})
    @action(
        detail=True, methods=["post"], url_path=r"pods/(?P<namespace>[^/]+)/(?P<pod>[^/]+)/exec"
    )
    def exec(self, request, pk=None, namespace=None, pod=None):
        """Run an allow-listed command (ip -br addr, ip -br link, ibv_devinfo, ibv_devinfo -l,
        env) in the pod through a Celery task; answers with the output when it finishes within
        the timeout, else 202 and the run to poll at /api/exec-runs/{id}/."""
        cluster = self.get_object()
        body = ExecRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.start_exec(
            cluster,
            namespace,
            pod,
            body.validated_data["command"],
            request.user,
            body.validated_data.get("container", ""),
        )
        run = services.wait_for_exec(run)
        code = status.HTTP_200_OK if run.done else status.HTTP_202_ACCEPTED
        return Response(ExecRunSerializer(run).data, status=code)

    @extend_schema(request=RolloutRequestSerializer, responses={202: RolloutSerializer})
    @action(detail=True, methods=["post", "get"])
    def rollouts(self, request, pk=None):
        cluster = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(cluster.rollouts.select_related("cluster", "created_by"))
            return self.get_paginated_response(RolloutSerializer(page, many=True).data)
        body = RolloutRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        options = dict(body.validated_data)
        plan = options.pop("plan")
        try:
            with transaction.atomic():
                record = services.start_rollout(cluster, plan, request.user, **options)
        except rollout.RolloutConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(RolloutSerializer(record).data, status=status.HTTP_202_ACCEPTED)


def _snapshot_meta(cluster: Cluster) -> dict:
    return {
        "refreshed_at": cluster.inspected_at,
        "attempted_at": cluster.inspect_attempted_at,
        "stale": snapshots.is_stale(cluster),
        "error": cluster.inspect_error,
        "summary": cluster.inspect_summary,
    }


class ExecRunViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """An exec run's output, for operators only: `env` can print secrets."""

    queryset = ExecRun.objects.all()
    serializer_class = ExecRunSerializer
    permission_classes = [OperatorOnly]


def _plan_or_400(key: str) -> Plan:
    plan = Plan.objects.filter(**({"pk": key} if key.isdigit() else {"slug": key})).first()
    if plan is None:
        raise ValidationError({"plan": [f"No plan '{key}'."]})
    return plan


class RolloutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rollout history: `?cluster=<id>&plan=<id or slug>`."""

    queryset = Rollout.objects.select_related("cluster", "created_by")
    write_role = OPERATOR

    def get_serializer_class(self):
        return RolloutDetailSerializer if self.action == "retrieve" else RolloutSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        cluster = self.request.query_params.get("cluster")
        plan = self.request.query_params.get("plan")
        if cluster:
            if not cluster.isdigit():
                raise ValidationError({"cluster": ["A cluster id is a whole number."]})
            queryset = queryset.filter(cluster_id=cluster)
        if plan:
            queryset = (
                queryset.filter(plan_id=plan) if plan.isdigit() else queryset.filter(plan_slug=plan)
            )
        return queryset

    @extend_schema(request=None, responses={202: RolloutSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        record = self.get_object()
        try:
            with transaction.atomic():
                new = services.start_rollback(record, request.user)
        except rollout.RolloutConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValueError as error:
            raise ValidationError({"rollback_of": [str(error)]}) from None
        return Response(RolloutSerializer(new).data, status=status.HTTP_202_ACCEPTED)


class PlanRolloutsView(APIView):
    """`POST /api/plans/{id or slug}/rollouts/`: roll the plan out to every bound cluster (or
    the ones named), one Celery task per cluster, as a group."""

    write_role = OPERATOR

    @extend_schema(request=FanOutRequestSerializer, responses={202: RolloutSerializer(many=True)})
    def post(self, request, key):
        plan = get_object_or_404(Plan, **({"pk": key} if key.isdigit() else {"slug": key}))
        body = FanOutRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data.get("clusters")
        clusters = list(Cluster.objects.filter(pk__in=ids)) if ids else list(plan.clusters.all())
        if not clusters:
            raise ValidationError(
                {"clusters": ["The plan is bound to no cluster; bind one or name clusters."]}
            )
        options = {k: body.validated_data[k] for k in ("dry_run", "prune")}
        with transaction.atomic():
            started, refused = services.start_rollouts(clusters, plan, request.user, **options)
        code = status.HTTP_202_ACCEPTED if started else status.HTTP_409_CONFLICT
        return Response(
            {"rollouts": RolloutSerializer(started, many=True).data, "refused": refused},
            status=code,
        )
