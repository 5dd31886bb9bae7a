"""The API's filter backend: django-filter with filters that read their parameter strictly, so
a bad value is a 400 naming the parameter (`?host_ip=abc`, `?reachable=maybe`), never a
database error, and an id that matches nothing is an empty page, not a 400."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_filters import filters
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValidationError(
            "'%(value)s' is not true or false.", code="invalid", params={"value": str(value)[:40]}
        )


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class PresentIPAddressField(forms.GenericIPAddressField):
    """An address; given but empty (`?host_ip=`) is an error, not "no filter"."""

    def to_python(self, value):
        if value == "":
            raise ValidationError("Give an IPv4 or IPv6 address.", code="required")
        return super().to_python(value)


class WholeNumberField(forms.IntegerField):
    """A whole number of 64 bits, as every integer column holds."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -(2**63))
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value not in (None, "") and not (
            str(value).isascii() and str(value).lstrip("-").isdigit()
        ):
            raise ValidationError("Enter a whole number.", code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
class IPAddressFilter(filters.CharFilter):
    field_class = PresentIPAddressField


INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}


@extend_schema_field(INT64)
class IntegerFilter(filters.NumberFilter):
    field_class = WholeNumberField


@extend_schema_field(INT64)
class IdFilter(IntegerFilter):
    """A foreign key by id: a whole number; one that names no row matches nothing."""


class FilterSet(RestFilterSet):
    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        models.GenericIPAddressField: {"filter_class": IPAddressFilter},
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.ForeignKey: {"filter_class": IdFilter},
        models.IntegerField: {"filter_class": IntegerFilter},
        models.PositiveIntegerField: {"filter_class": IntegerFilter},
        models.PositiveSmallIntegerField: {"filter_class": IntegerFilter},
        models.SmallIntegerField: {"filter_class": IntegerFilter},
        models.BigIntegerField: {"filter_class": IntegerFilter},
        models.AutoField: {"filter_class": IntegerFilter},
        models.BigAutoField: {"filter_class": IntegerFilter},
    }


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet
