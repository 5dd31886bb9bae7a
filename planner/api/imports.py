"""`/api/inventory-imports/`: inventory imports run by a worker (planner.import_jobs), to poll.

`POST /api/plans/{id}/import-nodes/` answers `202` with one of these (and its URL in `url` and
`Location`) when the file is too big to import in the request."""

from __future__ import annotations

from rest_framework import serializers, viewsets
from rest_framework.response import Response

from planner import import_jobs
from planner.api.filters import PlanFilter
from planner.models import ImportState, InventoryImport
from railstudio.filters import FilterSet
from railstudio.lookups import IdLookupMixin


class InventoryImportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.IntegerField(help_text="the plan's id")
    state = serializers.ChoiceField(choices=ImportState.choices)
    done = serializers.IntegerField(help_text="NIC rows written so far")
    total = serializers.IntegerField(help_text="NIC rows in the file (0 until it is read)")
    errors = serializers.DictField(help_text="why it failed, by where: `line 4.numa_node`")
    result = serializers.DictField(help_text="nodes and NICs created and updated")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="this import in the API")
    page = serializers.CharField(help_text="this import's progress page")


class InventoryImportFilter(FilterSet):
    plan = PlanFilter(field_name="plan")

    class Meta:
        model = InventoryImport
        fields = ["plan", "state"]


class InventoryImportViewSet(IdLookupMixin, viewsets.ReadOnlyModelViewSet):
    """Inventory imports, newest first; `state` is queued, running, succeeded or failed."""

    queryset = InventoryImport.objects.select_related("plan").defer("text")
    serializer_class = InventoryImportSerializer
    filterset_class = InventoryImportFilter

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        statuses = [import_jobs.status(job) for job in page]
        return self.get_paginated_response(InventoryImportSerializer(statuses, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(InventoryImportSerializer(import_jobs.status(self.get_object())).data)
