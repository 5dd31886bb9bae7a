"""What the clusters API's own actions answer, for the OpenAPI description."""

from rest_framework import serializers

from clusters.api.serializers import RolloutSerializer
from railstudio import fields


class QueuedSerializer(serializers.Serializer):
    queued = serializers.CharField(help_text="the task queued")
    cluster = serializers.IntegerField()


class DriftCheckQueuedSerializer(QueuedSerializer):
    drifted = serializers.BooleanField(help_text="as of the last check, before this one")
    drift_checked_at = serializers.DateTimeField(allow_null=True)


class RollbackChangeSerializer(serializers.Serializer):
    object = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "change", "unchanged", "remove"])
    diff = serializers.CharField(allow_blank=True)


class RollbackPreviewSerializer(serializers.Serializer):
    rollout = serializers.IntegerField()
    restores_revision = serializers.IntegerField(
        allow_null=True, help_text="null: that rollout changed nothing, so it is no revision"
    )
    current_revision = serializers.IntegerField(allow_null=True)
    current_rollout = serializers.IntegerField(allow_null=True)
    allowed = serializers.BooleanField()
    refused_because = serializers.CharField(allow_null=True)
    changes = RollbackChangeSerializer(many=True)


class DiscoveryRowSerializer(serializers.Serializer):
    node = serializers.CharField()
    rail = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    planned = serializers.JSONField(allow_null=True)
    discovered = serializers.JSONField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["match", "differs", "missing-in-cluster", "missing-in-plan"]
    )


class DiscoverySerializer(serializers.Serializer):
    discovered_at = serializers.DateTimeField(allow_null=True)
    nodes = serializers.ListField(child=serializers.DictField(), help_text="what discovery found")
    diff = DiscoveryRowSerializer(
        many=True, required=False, help_text="with ?plan=: planned vs discovered"
    )


class DiscoveryImportSerializer(serializers.Serializer):
    plan = fields.PlanKeyField(help_text="plan id or slug", max_length=63)


class SnapshotSerializer(serializers.Serializer):
    refreshed_at = serializers.DateTimeField(allow_null=True)
    attempted_at = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    summary = serializers.DictField()


class PodRowSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    name = serializers.CharField()
    node = serializers.CharField(allow_blank=True)
    phase = serializers.CharField(allow_blank=True)
    ok = serializers.BooleanField()
    problems = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())


class PodPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PodRowSerializer(many=True)
    snapshot = SnapshotSerializer()


POD_REPORT = (
    "The pod's interfaces against the plan and its diagnosis (clusters.inspect), and "
    "`snapshot`: when the report was taken."
)


class FanOutResultSerializer(serializers.Serializer):
    rollouts = RolloutSerializer(many=True)
    refused = serializers.DictField(
        child=serializers.CharField(), help_text="cluster name -> why it was not started"
    )
