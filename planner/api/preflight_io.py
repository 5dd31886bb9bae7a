"""What the preflight API reads and answers, shared by the plan manifests API and a cluster's
live preflight (clusters.api): request and result serializers, findings as dicts, a plan by id
or slug. No views here, so the clusters app may import it."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from planner import findings, preflight
from planner.models import Plan
from railstudio import fields, numbers


def safe_preflight(objects: list[dict], plan=None, facts=None) -> list[findings.Finding]:
    """preflight.run: oddly shaped objects come back as OBJECT_MALFORMED findings."""
    return preflight.run(objects, plan, facts)


def finding_dicts(items) -> list[dict]:
    return [item.to_dict() for item in items]


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=list(findings.SEVERITIES))
    object = serializers.CharField()
    field = serializers.CharField()
    message = serializers.CharField()
    fix = serializers.CharField()


class FindingCountsSerializer(serializers.Serializer):
    error = serializers.IntegerField()
    warning = serializers.IntegerField()
    info = serializers.IntegerField()


def plan_by_key(key, not_found: int = 404, field: str = "plan") -> Plan:
    """A plan by id (digits) or slug: 404, or 400 `{field: [...]}` when not_found is 400."""
    key = str(key).strip()
    lookup = {"pk": int(key)} if numbers.is_id(key) else {"slug": key}
    if not_found == 404:
        return get_object_or_404(Plan, **lookup)
    plan = Plan.objects.filter(**lookup).first()
    if plan is None:
        raise ValidationError({field: [f"No plan has the id or slug {key!r}."]})
    return plan


_FACT_TYPES = {
    "nodes": (list, type(None)),
    "nads": (list, type(None)),
    "nic_numa": (dict,),
    "gpu_numa": (dict,),
    "topology_policy": (str, type(None)),
    "pod_cidr": (str, type(None)),
    "service_cidr": (str, type(None)),
    "sriov_resource_prefix": (str, type(None)),
}
_FACT_LISTS_OF_MAPPINGS = ("nodes", "nads")


class PreflightRequestSerializer(serializers.Serializer):
    yaml = fields.StrictCharField(
        trim_whitespace=False,
        help_text="Kubernetes objects as multi-document YAML or JSON, in any mix: Pods, "
        "Deployments, Jobs, StatefulSets, PodTemplates, NADs, SR-IOV operator objects.",
    )
    plan = fields.PlanKeyField(
        required=False,
        max_length=63,
        allow_null=True,
        allow_blank=True,
        help_text="a plan id or slug: its NADs, VF resources and NIC layout become context",
    )
    facts = fields.MappingField(
        required=False,
        allow_null=True,
        help_text="cluster facts (planner.preflight.ClusterFacts): nodes, nads, nic_numa, "
        "gpu_numa, topology_policy, pod_cidr, service_cidr, sriov_resource_prefix",
    )

    def validate_facts(self, value):
        if not value:
            return None
        errors = []
        for key, item in value.items():
            allowed = _FACT_TYPES.get(key)
            if allowed is None:
                errors.append(f"{key} is not a known fact ({', '.join(_FACT_TYPES)})")
            elif not isinstance(item, allowed):
                errors.append(f"{key} has the wrong type ({type(item).__name__})")
            elif (
                key in _FACT_LISTS_OF_MAPPINGS
                and item
                and not all(isinstance(entry, dict) for entry in item)
            ):
                errors.append(f"{key} must be a list of mappings")
        if errors:
            raise serializers.ValidationError(errors)
        return preflight.ClusterFacts.coerce(value)


class PreflightResultSerializer(serializers.Serializer):
    objects = serializers.IntegerField(help_text="how many objects were read")
    findings = FindingSerializer(many=True)
    counts = FindingCountsSerializer()
