"""Serializer fields that take exactly what their OpenAPI description says.

DRF's own fields are lenient: CharField takes 5 for "5", IntegerField takes "5", BooleanField
takes "yes", a JSONField takes anything. Our API is JSON in, so these refuse a value of another
JSON type, and describe addresses, CIDRs and mappings precisely, so the schema is true in both
directions. `ModelSerializer` maps model fields onto them.
"""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from railstudio import numbers, rows

IP_SCHEMA = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
CIDR_SCHEMA = {
    "type": "string",
    "pattern": r"^[0-9A-Fa-f.:]+/[0-9]{1,3}$",
    "description": "a network in CIDR notation, e.g. 10.50.0.0/16 or fd00:50::/64",
}


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSlugField(serializers.SlugField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


@extend_schema_field(IP_SCHEMA)
class IPAddressField(serializers.IPAddressField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(CIDR_SCHEMA)
class CIDRField(StrictCharField):
    """Its meaning (host bits, overlaps, family) is checked by planner.validation."""


@extend_schema_field({"type": "object", "additionalProperties": True})
class MappingField(serializers.JSONField):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected a mapping (an object).")
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMapField(MappingField):
    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not all(isinstance(key, str) and isinstance(value, str) for key, value in data.items()):
            raise serializers.ValidationError("Expected a mapping of strings to strings.")
        return data


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictSlugField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
        models.GenericIPAddressField: IPAddressField,
    }
    serializer_choice_field = StrictChoiceField


class RowField(serializers.PrimaryKeyRelatedField):
    """A related row by id, as PrimaryKeyRelatedField answers it, read with railstudio.rows (one
    written-out query; with `lock`, the row locked as planner.locks locks it)."""

    def __init__(self, model, *, lock: bool = False, **kwargs):
        self.row_model, self.lock = model, lock
        kwargs.setdefault("queryset", model._default_manager.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        key = None
        if isinstance(data, int) and not isinstance(data, bool):
            key = data
        elif isinstance(data, str):
            key = numbers.small_int(data)
        if key is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        found = rows.by_pk(self.row_model, key, lock=self.lock) if 0 < key < 2**63 else None
        if found is None:
            self.fail("does_not_exist", pk_value=data)
        return found


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "description": "a plan id"},
            {"type": "string", "minLength": 1, "maxLength": 63, "description": "a plan slug"},
        ]
    }
)
class PlanKeyField(serializers.CharField):
    """A plan by id (a number, or digits) or slug; handed on as text."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
