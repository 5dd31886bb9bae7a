from rest_framework import serializers

from clusters import execution
from clusters.models import Cluster, ExecRun, Rollout, RolloutObject
from planner.models import Plan


class ClusterSerializer(serializers.ModelSerializer):
    """Credentials go in (kubeconfig, write-only) and never come out."""

    kubeconfig = serializers.CharField(
        trim_whitespace=False,
        write_only=True,
        required=False,
        allow_blank=True,
        style={"base_template": "textarea.html"},
    )
    plans = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Plan.objects.all(), required=False
    )

    class Meta:
        model = Cluster
        fields = [
            "id", "name", "description", "kubeconfig", "context", "in_cluster", "server", "mode",
            "is_lab", "plans", "inspect_interval_seconds", "inspected_at", "inspect_error", "reachable", "server_version", "node_count", "multus_installed",
            "sriov_operator", "vf_resources", "tested_at", "last_error", "drifted", "drift_diff",
            "drift_checked_at", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "server", "is_lab", "inspected_at", "inspect_error", "reachable", "server_version", "node_count", "multus_installed",
            "sriov_operator", "vf_resources", "tested_at", "last_error", "drifted", "drift_diff",
            "drift_checked_at", "created_at",
        ]  # fmt: skip


class RolloutObjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutObject
        fields = [
            "position",
            "api_version",
            "kind",
            "namespace",
            "name",
            "action",
            "outcome",
            "message",
            "diff",
        ]


class RolloutSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    revision_label = serializers.CharField(
        read_only=True, help_text='"r3", or "in progress", "dry run", "no changes" (no number)'
    )

    class Meta:
        model = Rollout
        fields = [
            "id", "cluster", "cluster_name", "plan", "plan_slug", "revision", "revision_label",
            "state", "dry_run",
            "prune", "force", "force_reason", "rollback_of", "created_by", "created_at",
            "started_at", "finished_at", "message", "attempts", "findings",
        ]  # fmt: skip
        read_only_fields = fields


class RolloutDetailSerializer(RolloutSerializer):
    objects = RolloutObjectSerializer(source="items", many=True, read_only=True)

    class Meta(RolloutSerializer.Meta):
        fields = [*RolloutSerializer.Meta.fields, "objects", "bundle"]
        read_only_fields = fields


class RolloutRequestSerializer(serializers.Serializer):
    plan = serializers.CharField(help_text="plan id or slug")
    dry_run = serializers.BooleanField(default=False)
    prune = serializers.BooleanField(default=False)
    force = serializers.BooleanField(default=False)
    force_reason = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_plan(self, value):
        lookup = {"pk": value} if str(value).isdigit() else {"slug": value}
        plan = Plan.objects.filter(**lookup).first()
        if plan is None:
            raise serializers.ValidationError(f"No plan '{value}'.")
        return plan

    def validate(self, attrs):
        if attrs["force"] and not attrs["force_reason"].strip():
            raise serializers.ValidationError(
                {
                    "force_reason": [
                        "Forcing past preflight errors needs a reason, for the audit record."
                    ]
                }
            )
        return attrs


class FanOutRequestSerializer(serializers.Serializer):
    clusters = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="cluster ids; default: every cluster bound to the plan",
    )
    dry_run = serializers.BooleanField(default=False)
    prune = serializers.BooleanField(default=False)


class ExecRequestSerializer(serializers.Serializer):
    command = serializers.CharField(help_text="one of: " + ", ".join(execution.ALLOWED))
    container = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_command(self, value):
        try:
            return execution.normalize(value)
        except execution.NotAllowed as error:
            raise serializers.ValidationError(str(error)) from None


class ExecRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExecRun
        fields = [
            "id", "cluster", "namespace", "pod", "container", "command", "created_at",
            "finished_at", "exit_code", "stdout", "stderr", "error", "duration_ms",
        ]  # fmt: skip
        read_only_fields = fields
