"""What the planner API's own actions answer, for the OpenAPI description (serializers used
only to describe; the views build these bodies as plain dicts)."""

from rest_framework import serializers

from planner.api.preflight_io import FindingSerializer
from railstudio import fields


class RailUsageSerializer(serializers.Serializer):
    rail = serializers.IntegerField()
    index = serializers.IntegerField()
    nad_name = serializers.CharField()
    subnet = serializers.CharField()
    size = serializers.IntegerField()
    usable = serializers.IntegerField()
    excluded = serializers.IntegerField()
    host_assigned = serializers.IntegerField()
    free = serializers.IntegerField()
    used = serializers.IntegerField()
    utilization = serializers.FloatField(help_text="percent of usable addresses not free")


class UtilizationSerializer(serializers.Serializer):
    plan = serializers.IntegerField()
    rails = RailUsageSerializer(many=True)
    warnings = FindingSerializer(many=True)


class AllocatedSerializer(serializers.Serializer):
    allocated = serializers.DictField(
        child=serializers.IntegerField(), help_text="addresses given, by rail index"
    )
    total = serializers.IntegerField()


class ImportCountsSerializer(serializers.Serializer):
    nodes_created = serializers.IntegerField()
    nodes_updated = serializers.IntegerField()
    nics_created = serializers.IntegerField()
    nics_updated = serializers.IntegerField()


class AddressRangeSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    size = serializers.IntegerField()


class AvailableIPsSerializer(serializers.Serializer):
    rail = serializers.IntegerField()
    count = serializers.IntegerField()
    ranges = AddressRangeSerializer(many=True)
    addresses = serializers.ListField(child=serializers.CharField())


class AllocationSerializer(serializers.Serializer):
    nic = serializers.IntegerField()
    node = serializers.CharField()
    address = serializers.CharField()


class AllocationsSerializer(serializers.Serializer):
    allocations = AllocationSerializer(many=True)


class AvailablePrefixSerializer(serializers.Serializer):
    rail = serializers.IntegerField()
    prefix_length = serializers.IntegerField()
    prefix = serializers.CharField(allow_null=True, help_text="null when no block is free")


class InventoryTextSerializer(serializers.Serializer):
    text = fields.StrictCharField(
        help_text="the inventory as CSV or YAML text", trim_whitespace=False
    )
    filename = fields.StrictCharField(
        required=False, allow_blank=True, max_length=255, help_text="a name ending .csv means CSV"
    )


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class DocumentTextSerializer(serializers.Serializer):
    document = fields.StrictCharField(help_text="a plan document as YAML or JSON text")
