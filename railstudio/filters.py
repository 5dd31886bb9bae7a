"""The API's filter backend: django-filter with filters that read their parameter strictly, so
a bad value is a 400 naming the parameter (`?host_ip=abc`, `?reachable=maybe`), never a
database error, and an id that matches nothing is an empty page, not a 400; and lists that
refuse what they do not know: an unknown query parameter on a list is a 400 naming it, never
silently ignored (a typo such as ?plna= would otherwise list everything)."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_filters import filters
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError as RequestError

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


def reject_unknown(request, known) -> None:
    """400 for query parameters outside `known`, naming each and what is known."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise RequestError(
            {name: [f"Unknown query parameter; this list takes: {listed}."] for name in unknown}
        )


def pagination_params(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    if paginator is None:
        return set()
    return {
        getattr(paginator, name)
        for name in ("limit_query_param", "offset_query_param", "page_query_param")
        if getattr(paginator, name, None)
    }


class StrictFilterBackend(DjangoFilterBackend):
    """The strict filters above, and, on a list, a 400 for parameters no filter, the pagination
    or the view (`extra_query_params`) knows."""

    filterset_base = FilterSet

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "detail", False):
            # A row named by its id is that row: a list's filters neither hide it nor cost a
            # FilterSet per request.
            return queryset
        if getattr(view, "action", None) == "list":
            known = pagination_params(view) | set(getattr(view, "extra_query_params", ()))
            filterset_class = self.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known |= set(filterset_class.base_filters)
            reject_unknown(request, known)
        return super().filter_queryset(request, queryset, view)
