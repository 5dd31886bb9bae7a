"""List filters that refuse what they do not know: an unknown query parameter on a list is a
400 naming it, never silently ignored (a typo such as ?plna= would otherwise list everything)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError


def reject_unknown(request, known) -> None:
    """400 for query parameters outside `known`, naming each and what is known."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ValidationError(
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
    """DjangoFilterBackend that, on a list, refuses parameters no filter, the pagination or the
    view (`extra_query_params`) knows."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) == "list":
            known = pagination_params(view) | set(getattr(view, "extra_query_params", ()))
            filterset_class = self.get_filterset_class(view, queryset)
            if filterset_class is not None:
                known |= set(filterset_class.base_filters)
            reject_unknown(request, known)
        return super().filter_queryset(request, queryset, view)
