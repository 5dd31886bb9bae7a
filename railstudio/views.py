from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views import defaults


@login_not_required
def healthz(request):
    return JsonResponse({"status": "ok"})


@login_not_required
def favicon(request):
    """Browsers and tools ask for /favicon.ico whatever the page says: the product's mark."""
    return HttpResponsePermanentRedirect(static("railstudio/favicon.svg"))


def _api_or_page(default_view, status: int, message: str):
    """Django's own page, except under /api/, where the answer is JSON as the API's are."""

    def view(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=status)
        return default_view(request, *args, **kwargs)

    return view


bad_request = _api_or_page(defaults.bad_request, 400, "Bad request.")
not_found = _api_or_page(defaults.page_not_found, 404, "No such object or endpoint.")
server_error = _api_or_page(defaults.server_error, 500, "Server error.")
