"""htmx answers: a fragment for an htmx swap, the whole page otherwise."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

INVALID = 422  # htmx swaps 2xx and 422 answers in: a form with its errors


def wants_fragment(request) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def fragment_or_page(request, page: str, fragment: str, context: dict, status: int = 200):
    """Render the fragment for an htmx swap, else the page; caches keep the two apart."""
    template = fragment if wants_fragment(request) else page
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
