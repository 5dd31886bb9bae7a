"""Filters of the planner API: wherever a plan can be named, by id or by slug."""

from __future__ import annotations

import django_filters
from rest_framework.exceptions import ValidationError

from planner.models import Exclusion, Node, NodeNIC, Plan, Rail
from railstudio import numbers
from railstudio.filters import FilterSet


def plan_named(key: str, param: str = "plan") -> Plan:
    """The plan with id or slug `key`, or a 400 naming the parameter."""
    if len(key) > 63:
        raise ValidationError({param: ["A plan id or slug has at most 63 characters."]})
    plan = Plan.objects.filter(**({"pk": key} if numbers.is_id(key) else {"slug": key})).first()
    if plan is None:
        raise ValidationError({param: [f"No plan '{key}' (give a plan's id or slug)."]})
    return plan


class PlanFilter(django_filters.CharFilter):
    """A plan by id or slug; `field_name` is the path to it from the filtered model, `param`
    the query parameter (named in errors)."""

    def __init__(self, *args, param: str = "plan", **kwargs):
        super().__init__(*args, **kwargs)
        self.param = param

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        return qs.filter(**{self.field_name: plan_named(str(value), self.param)})


class RailFilter(FilterSet):
    plan = PlanFilter(field_name="plan")

    class Meta:
        model = Rail
        fields = ["plan", "index"]


class ExclusionFilter(FilterSet):
    plan = PlanFilter(field_name="rail__plan")
    rail__plan = PlanFilter(field_name="rail__plan", param="rail__plan")  # the older name

    class Meta:
        model = Exclusion
        fields = ["rail", "plan", "rail__plan", "purpose"]


class NodeFilter(FilterSet):
    plan = PlanFilter(field_name="plan")

    class Meta:
        model = Node
        fields = ["plan", "name"]


class NodeNICFilter(FilterSet):
    plan = PlanFilter(field_name="node__plan")
    node__plan = PlanFilter(field_name="node__plan", param="node__plan")  # the older name

    class Meta:
        model = NodeNIC
        fields = {"node": ["exact"], "rail": ["exact"], "host_ip": ["exact", "isnull"]}
