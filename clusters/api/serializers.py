from rest_framework import serializers

from clusters import execution
from clusters.models import Cluster, ExecRun, Rollout, RolloutObject
from planner import k8snames
from planner.models import Plan
from railstudio import fields, numbers


class ClusterSerializer(fields.ModelSerializer):
    """Credentials go in (kubeconfig, write-only) and never come out."""

    kubeconfig = fields.StrictCharField(
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
        extra_kwargs = {
            "name": {
                "error_messages": {
                    "required": "A cluster needs a name.",
                    "blank": "A cluster needs a name.",
                }
            }
        }

    def to_internal_value(self, data):
        plans = data.get("plans", []) if isinstance(data, dict) else []
        if not isinstance(plans, list) or not all(isinstance(slug, str) for slug in plans):
            raise serializers.ValidationError({"plans": ["Expected a list of plan slugs."]})
        return super().to_internal_value(data)


class RolloutObjectSerializer(fields.ModelSerializer):
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


class RolloutSerializer(fields.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )
    cancelled_by = serializers.CharField(
        source="cancelled_by.username", read_only=True, default=None, allow_null=True
    )
    restores_revision = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="for a rollback: the revision it puts back"
    )
    revision_label = serializers.CharField(
        read_only=True, help_text='"r3", or "in progress", "dry run", "no changes" (no number)'
    )

    class Meta:
        model = Rollout
        fields = [
            "id", "cluster", "cluster_name", "plan", "plan_slug", "revision", "revision_label",
            "state", "dry_run", "prune", "force", "force_reason", "adopt", "adopt_reason",
            "rollback_of", "restores_revision", "created_by", "created_at", "started_at",
            "finished_at", "heartbeat_at", "cancel_requested_at", "cancelled_by", "message",
            "attempts", "findings",
        ]  # fmt: skip
        read_only_fields = fields


class RolloutDetailSerializer(RolloutSerializer):
    objects = RolloutObjectSerializer(source="items", many=True, read_only=True)

    class Meta(RolloutSerializer.Meta):
        fields = [*RolloutSerializer.Meta.fields, "objects", "bundle"]
        read_only_fields = fields


FORCE_REASON_NEEDED = "Forcing past preflight errors needs a reason, for the audit record."
ADOPT_REASON_NEEDED = (
    "Taking over objects Rail Studio did not make needs a reason, for the audit record."
)
ROLLBACK_REASON_NEEDED = "Pruning or forcing a rollback needs a reason, for the audit record."
REASON_MAX_LENGTH = 2000


class RolloutOptionsSerializer(serializers.Serializer):
    """How to roll out (the API's rollout request and every roll-out form on the pages)."""

    dry_run = fields.StrictBooleanField(default=False)
    prune = fields.StrictBooleanField(default=False)
    force = fields.StrictBooleanField(default=False)
    force_reason = fields.StrictCharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX_LENGTH
    )
    adopt = fields.StrictBooleanField(
        default=False,
        help_text="take over live objects Rail Studio did not make (never another plan's)",
    )
    adopt_reason = fields.StrictCharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX_LENGTH
    )

    OPTIONS = ("dry_run", "prune", "force", "force_reason", "adopt", "adopt_reason")

    def validate(self, attrs):
        errors = {}
        if attrs["force"] and not attrs["force_reason"].strip():
            errors["force_reason"] = [FORCE_REASON_NEEDED]
        if attrs["adopt"] and not attrs["adopt_reason"].strip():
            errors["adopt_reason"] = [ADOPT_REASON_NEEDED]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def options(self) -> dict:
        """Keyword arguments of services.start_rollout(s)."""
        return {name: self.validated_data[name] for name in self.OPTIONS}


class RolloutRequestSerializer(RolloutOptionsSerializer):
    plan = fields.PlanKeyField(
        help_text="plan id or slug",
        max_length=63,
        error_messages={
            "required": "Choose the plan to roll out.",
            "blank": "Choose the plan to roll out.",
        },
    )

    def validate_plan(self, value):
        lookup = {"pk": value} if numbers.is_id(value) else {"slug": value}
        plan = Plan.objects.filter(**lookup).first()
        if plan is None:
            raise serializers.ValidationError(f"No plan '{value}'.")
        return plan


class RollbackRequestSerializer(serializers.Serializer):
    prune = fields.StrictBooleanField(
        default=False, help_text="delete the plan's objects this revision did not have"
    )
    force = fields.StrictBooleanField(default=False, help_text="apply past preflight errors")
    reason = fields.StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REASON_MAX_LENGTH,
        help_text="needed with prune or force",
    )

    def validate(self, attrs):
        if (attrs["prune"] or attrs["force"]) and not attrs["reason"].strip():
            raise serializers.ValidationError({"reason": [ROLLBACK_REASON_NEEDED]})
        return attrs

    def options(self) -> dict:
        """Keyword arguments of services.start_rollback."""
        return {name: self.validated_data[name] for name in ("prune", "force", "reason")}


class BindRequestSerializer(serializers.Serializer):
    plan = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Plan.objects.all(),
        error_messages={
            "required": "Choose a plan to bind.",
            "null": "Choose a plan to bind.",
            "does_not_exist": "No plan '{value}'.",
            "invalid": "No plan '{value}'.",
        },
    )


class FanOutRequestSerializer(serializers.Serializer):
    clusters = serializers.ListField(
        child=fields.StrictIntegerField(min_value=1),
        required=False,
        help_text="cluster ids; default: every cluster bound to the plan",
    )
    dry_run = fields.StrictBooleanField(default=False)
    prune = fields.StrictBooleanField(default=False)


class ExecRequestSerializer(serializers.Serializer):
    command = fields.StrictCharField(help_text="one of: " + ", ".join(execution.ALLOWED))
    container = fields.StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=k8snames.LABEL_MAX,
        help_text="container name (a DNS-1123 label); default: the pod's first container",
    )

    def validate_container(self, value):
        problem = k8snames.container_name_error(value) if value else None
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_command(self, value):
        try:
            return execution.normalize(value)
        except execution.NotAllowed as error:
            raise serializers.ValidationError(str(error)) from None


class ExecRunSerializer(fields.ModelSerializer):
    class Meta:
        model = ExecRun
        fields = [
            "id", "cluster", "namespace", "pod", "container", "command", "created_at",
            "finished_at", "exit_code", "stdout", "stderr", "error", "duration_ms",
        ]  # fmt: skip
        read_only_fields = fields
