from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters import (
    discovery,
    discovery_plans,
    execution,
    facts,
    liveness,
    rollbacks,
    rollout,
    services,
    snapshots,
    tasks,
)
from clusters.api import responses
from clusters.api.serializers import (
    ClusterSerializer,
    ExecRequestSerializer,
    ExecRunSerializer,
    FanOutRequestSerializer,
    RollbackRequestSerializer,
    RolloutDetailSerializer,
    RolloutRequestSerializer,
    RolloutSerializer,
)
from clusters.kube import KubeError
from clusters.models import Cluster, ExecRun, Rollout
from clusters.pod_filters import FIELDS as POD_FILTER_FIELDS
from clusters.pod_filters import PodFilters
from planner import findings, inventory, plancache, yamlio
from planner.api.filters import PlanFilter, plan_named
from planner.api.preflight_io import (
    PreflightRequestSerializer,
    PreflightResultSerializer,
    finding_dicts,
    plan_by_key,
    safe_preflight,
)
from planner.api.responses import ImportCountsSerializer
from planner.models import Plan
from railstudio import numbers, openapi
from railstudio.filters import FilterSet, pagination_params, reject_unknown
from railstudio.lookups import IdLookupMixin
from railstudio.permissions import OperatorOnly
from railstudio.roles import OPERATOR, VIEWER

ROLLOUT_RELATED = ("cluster", "created_by", "rollback_of", "cancelled_by")


class ClusterFilter(FilterSet):
    plan = PlanFilter(field_name="plans")  # clusters a plan (id or slug) is bound to

    class Meta:
        model = Cluster
        fields = ["name", "is_lab", "drifted", "reachable", "plan"]


class ClusterViewSet(IdLookupMixin, viewsets.ModelViewSet):
    """Clusters: viewers read; operators register, edit, test, roll out."""

    queryset = Cluster.objects.prefetch_related("plans")
    serializer_class = ClusterSerializer
    write_role = OPERATOR
    # Reading pods or NADs changes nothing on the cluster.
    action_write_roles = {"refresh": VIEWER, "preflight": VIEWER}
    filterset_class = ClusterFilter

    def perform_create(self, serializer):
        try:
            serializer.instance = services.register(**serializer.validated_data)
        except services.RegistrationError as error:
            raise ValidationError(error.errors) from None

    def perform_update(self, serializer):
        """The same rules as registering: a new kubeconfig (or another context of the stored
        one) is checked before anything is saved, and so are the plans to bind."""
        data, cluster = serializer.validated_data, serializer.instance
        text = data.get("kubeconfig") or ""
        context_changed = "context" in data and data["context"] != cluster.context
        if text or (context_changed and not cluster.in_cluster):
            try:
                context, server = services.check_kubeconfig(
                    text or cluster.kubeconfig_text(), data.get("context", cluster.context)
                )
            except services.RegistrationError as error:
                raise ValidationError(error.errors) from None
            if text:
                cluster.set_kubeconfig(text)
            cluster.server, data["context"] = server, context
        if "plans" in data:
            conflicts = services.bind_conflicts(None, list(data["plans"]), cluster.mode)
            if conflicts:
                raise ValidationError({"plans": conflicts})
        data.pop("kubeconfig", None)
        serializer.save()

    @extend_schema(
        request=None, responses={202: responses.QueuedSerializer, 503: openapi.detail(503)}
    )
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        cluster = self.get_object()
        services.enqueue(lambda: tasks.test_connection.delay(cluster.pk))
        return Response(
            {"queued": "test-connection", "cluster": cluster.pk}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        request=None,
        responses={202: responses.DriftCheckQueuedSerializer, 503: openapi.detail(503)},
    )
    @action(detail=True, methods=["post"], url_path="drift-check")
    def drift_check(self, request, pk=None):
        """Compare the cluster's live NADs with each bound plan's last applied revision (a
        Celery task); poll GET /api/clusters/{id}/ until drift_checked_at moves, then read
        drifted and drift_diff."""
        cluster = self.get_object()
        services.enqueue(lambda: tasks.check_drift.delay(cluster.pk))
        return Response(
            {
                "queued": "drift-check",
                "cluster": cluster.pk,
                "drifted": cluster.drifted,
                "drift_checked_at": cluster.drift_checked_at,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=None, responses={202: responses.QueuedSerializer, 503: openapi.detail(503)}
    )
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        cluster = self.get_object()
        services.enqueue(lambda: tasks.discover_nodes.delay(cluster.pk))
        return Response(
            {"queued": "discover", "cluster": cluster.pk}, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        parameters=[OpenApiParameter("plan", str, description="plan id or slug: add the diff")],
        responses=responses.DiscoverySerializer,
    )
    @action(detail=True, methods=["get"])
    def discovery(self, request, pk=None):
        """What node discovery found; with `?plan=<id or slug>`, the planned-vs-discovered diff."""
        cluster = self.get_object()
        reject_unknown(request, {"plan"})
        body = {"discovered_at": cluster.discovered_at, "nodes": cluster.discovery}
        key = request.query_params.get("plan")
        if key:
            plan = plan_named(key)
            body["diff"] = discovery.compare(plancache.spec(plan), cluster.discovery)
        return Response(body)

    @extend_schema(
        request=responses.DiscoveryImportSerializer,
        responses=ImportCountsSerializer,
    )
    @action(detail=True, methods=["post"], url_path="discovery/import")
    def import_discovery(self, request, pk=None):
        """Write the discovered nodes and NICs into a plan's inventory (`{"plan": ...}`)."""
        cluster = self.get_object()
        body = responses.DiscoveryImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = plan_named(body.validated_data["plan"])
        if not cluster.discovery:
            raise ValidationError({"plan": ["Nothing discovered yet: run discovery first."]})
        try:
            counts = discovery_plans.import_discovered(plan, cluster.discovery)
        except inventory.InventoryError as error:
            raise ValidationError(error.errors) from None
        return Response(counts)

    @extend_schema(
        request=None, responses={202: responses.QueuedSerializer, 503: openapi.detail(503)}
    )
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
            502: openapi.detail(502, "The cluster did not answer (the reason is given)."),
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
        spec = plancache.spec(plan_by_key(key, not_found=400)) if key not in (None, "") else None
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
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
        ],
        responses=responses.PodPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def pods(self, request, pk=None):
        """Pods that ask for secondary networks, from the last snapshot."""
        cluster = self.get_object()
        reject_unknown(request, set(POD_FILTER_FIELDS) | pagination_params(self))
        rows = PodFilters.read(request.query_params).apply(cluster.pods.all())
        page = self.paginate_queryset(
            rows.values("namespace", "name", "node", "phase", "ok", "problems", "codes")
        )
        for row in page:
            row["codes"] = row["codes"].split()
        response = self.get_paginated_response(page)
        response.data["snapshot"] = _snapshot_meta(cluster)
        return response

    @extend_schema(
        operation_id="clusters_pod_retrieve",
        parameters=[
            OpenApiParameter("namespace", str, OpenApiParameter.PATH),
            OpenApiParameter("pod", str, OpenApiParameter.PATH),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, responses.POD_REPORT)},
    )
    @action(detail=True, methods=["get"], url_path=r"pods/(?P<namespace>[^/]+)/(?P<pod>[^/]+)")
    def pod(self, request, pk=None, namespace=None, pod=None):
        """One pod: interfaces, comparison with the plan, diagnosis."""
        cluster = self.get_object()
        row = get_object_or_404(cluster.pods, namespace=namespace, name=pod)
        return Response({**row.report, "snapshot": _snapshot_meta(cluster)})

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "namespace", str, OpenApiParameter.PATH, description="a DNS-1123 label"
            ),
            OpenApiParameter("pod", str, OpenApiParameter.PATH, description="a DNS-1123 subdomain"),
        ],
        request=ExecRequestSerializer,
        responses={
            200: ExecRunSerializer,
            202: OpenApiResponse(
                ExecRunSerializer, "Queued: poll the run's url (/api/exec-runs/{id}/)."
            ),
            503: openapi.detail(503),
        },
    )
    @action(
        detail=True, methods=["post"], url_path=r"pods/(?P<namespace>[^/]+)/(?P<pod>[^/]+)/exec"
    )
    def exec(self, request, pk=None, namespace=None, pod=None):
        """Run an allow-listed command (ip -br addr, ip -br link, ibv_devinfo, ibv_devinfo -l,
        env) in the pod through a Celery task. Answers at once: 202 with the run's `url` (and
        Location) to poll at /api/exec-runs/{id}/, or 200 when it has already finished; 503
        when the task queue cannot take it."""
        cluster = self.get_object()
        body = ExecRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = services.start_exec(
                cluster,
                namespace,
                pod,
                body.validated_data["command"],
                request.user,
                body.validated_data.get("container", ""),
            )
        except execution.InvalidTarget as error:
            raise ValidationError(error.errors) from None
        run.refresh_from_db()
        code = status.HTTP_200_OK if run.done else status.HTTP_202_ACCEPTED
        url = request.build_absolute_uri(reverse("api-exec-run-detail", args=[run.pk]))
        body = {**ExecRunSerializer(run).data, "url": url}
        return Response(body, status=code, headers={"Location": url})

    @extend_schema(
        methods=["GET"],
        operation_id="clusters_rollouts_list",
        parameters=[
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
        ],
        responses=RolloutSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        request=RolloutRequestSerializer,
        responses={
            202: RolloutSerializer,
            409: openapi.detail(409, "Another rollout of this cluster is pending or running."),
        },
    )
    @action(detail=True, methods=["post", "get"])
    def rollouts(self, request, pk=None):
        cluster = self.get_object()
        if request.method == "GET":
            reject_unknown(request, pagination_params(self))
            page = self.paginate_queryset(cluster.rollouts.select_related(*ROLLOUT_RELATED))
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


class ExecRunViewSet(IdLookupMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """An exec run's output, for operators only: `env` can print secrets. A run no worker
    finished in time ends with the reason (execution.give_up_if_abandoned)."""

    queryset = ExecRun.objects.all()
    serializer_class = ExecRunSerializer
    permission_classes = [OperatorOnly]

    def get_object(self):
        return execution.give_up_if_abandoned(super().get_object())


class RolloutViewSet(
    IdLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Rollout history: `?cluster=<id>&plan=<id or slug>`; cancel; rollback (GET previews)."""

    queryset = Rollout.objects.select_related(*ROLLOUT_RELATED)
    write_role = OPERATOR
    extra_query_params = ("cluster", "plan")

    def list(self, request, *args, **kwargs):
        liveness.reap()  # show a rollout whose worker died as interrupted, not running
        return super().list(request, *args, **kwargs)

    def get_object(self):
        liveness.reap()
        return super().get_object()

    def get_serializer_class(self):
        return RolloutDetailSerializer if self.action == "retrieve" else RolloutSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        cluster = self.request.query_params.get("cluster")
        plan = self.request.query_params.get("plan")
        if cluster:
            if not numbers.is_id(cluster):
                raise ValidationError({"cluster": ["A cluster id is a whole number."]})
            queryset = queryset.filter(cluster_id=cluster)
        if plan:
            queryset = (
                queryset.filter(plan_id=plan)
                if numbers.is_id(plan)
                else queryset.filter(plan_slug=plan)
            )
        return queryset

    @extend_schema(
        methods=["GET"], request=None, responses={200: responses.RollbackPreviewSerializer}
    )
    @extend_schema(
        methods=["POST"],
        request=RollbackRequestSerializer,
        responses={
            202: RolloutSerializer,
            409: openapi.detail(409, "Another rollout of this cluster is pending or running."),
            503: openapi.detail(503),
        },
    )
    @action(detail=True, methods=["get", "post"])
    def rollback(self, request, pk=None):
        """GET: what rolling back to this revision would change (against the plan's current
        revision on the cluster), and whether it is allowed. POST `{prune, force, reason}`:
        do it (202); prune and force need a reason."""
        record = self.get_object()
        if request.method == "GET":
            return Response(rollbacks.preview(record).to_dict())
        body = RollbackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                new = services.start_rollback(record, request.user, **body.validated_data)
        except rollout.RolloutConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except rollout.RollbackRefused as error:
            raise ValidationError({"rollback_of": [str(error)]}) from None
        return Response(RolloutSerializer(new).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            200: RolloutSerializer,
            202: OpenApiResponse(RolloutSerializer, "Its worker stops before the next write."),
            409: openapi.detail(409, "The rollout had already ended."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a pending rollout (200, it ends now) or a running one (202: its worker stops
        before the next write; rows say what was applied); 409 when it already ended."""
        record = self.get_object()
        outcome = liveness.cancel(record, request.user)
        record.refresh_from_db()
        if outcome == "ended":
            return Response(
                {"detail": f"Rollout #{record.pk} already ended ({record.state})."},
                status=status.HTTP_409_CONFLICT,
            )
        code = status.HTTP_200_OK if outcome == "cancelled" else status.HTTP_202_ACCEPTED
        return Response(RolloutSerializer(record).data, status=code)


class PlanRolloutsView(APIView):
    """`POST /api/plans/{id or slug}/rollouts/`: roll the plan out to every bound cluster (or
    the ones named), one Celery task per cluster, as a group."""

    write_role = OPERATOR

    @extend_schema(
        operation_id="plans_rollouts_create",
        parameters=[
            OpenApiParameter("key", str, OpenApiParameter.PATH, description="plan id or slug")
        ],
        request=FanOutRequestSerializer,
        responses={
            202: responses.FanOutResultSerializer,
            409: OpenApiResponse(
                responses.FanOutResultSerializer, "Every cluster named was busy; none started."
            ),
        },
    )
    def post(self, request, key):
        plan = get_object_or_404(Plan, **({"pk": key} if numbers.is_id(key) else {"slug": key}))
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
