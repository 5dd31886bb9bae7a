"""The API's filter backend: django-filter with typed filters for address fields, so
`?host_ip=abc` is a 400 naming the parameter instead of a database error."""

from django import forms
from django.db import models
from django_filters import filters
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet


class IPAddressFilter(filters.CharFilter):
    field_class = forms.GenericIPAddressField


class FilterSet(RestFilterSet):
    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        models.GenericIPAddressField: {"filter_class": IPAddressFilter},
    }


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet
