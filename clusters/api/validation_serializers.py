"""Serializers of rail validations (clusters.validation)."""

from rest_framework import serializers

from clusters.models import Validation
from clusters.validation import MODES


class ValidationRequestSerializer(serializers.Serializer):
    plan = serializers.JSONField(help_text="the plan's id or slug (bound to the cluster)")
    mode = serializers.ChoiceField(choices=MODES, default="quick")
    nodes = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        max_length=4096,
        help_text="node names (default: the plan's nodes in the cluster)",
    )
    keep_probe = serializers.BooleanField(default=False, help_text="leave the probe DaemonSet")


class ValidationSerializer(serializers.ModelSerializer):
    plan = serializers.SerializerMethodField()
    passed = serializers.BooleanField(read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Validation
        fields = [
            "id", "url", "cluster", "plan", "plan_slug", "mode", "state", "progress", "passed",
            "counts", "message", "requested_nodes", "nodes", "keep_probe", "scheduled",
            "created_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_plan(self, obj) -> int | None:
        return obj.plan_id

    def get_counts(self, obj) -> dict:
        return obj.summary.get("counts") or {}

    def get_url(self, obj) -> str:
        return obj.get_absolute_url()


class ValidationDetailSerializer(ValidationSerializer):
    rails = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()

    class Meta(ValidationSerializer.Meta):
        fields = [
            *ValidationSerializer.Meta.fields,
            "summary",
            "findings",
            "facts",
            "rails",
            "previous",
        ]
        read_only_fields = fields

    def get_rails(self, obj) -> list[dict]:
        """Per rail: the NAD, the tests run and the result matrices (see
        clusters.validation.results); `?matrices=0` leaves the matrices out."""
        with_matrices = self.context.get("matrices", True)
        rails = []
        for row in obj.rails.all():
            data = row.data
            if not with_matrices:
                data = {
                    k: v for k, v in data.items() if k not in ("status", "rtt_us", "mtu", "loss")
                }
            rails.append(data)
        return rails

    def get_previous(self, obj) -> int | None:
        return self.context.get("previous_id")
