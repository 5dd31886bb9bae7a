from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static


@login_not_required
def healthz(request):
    return JsonResponse({"status": "ok"})


@login_not_required
def favicon(request):
    """Browsers and tools ask for /favicon.ico whatever the page says: the product's mark."""
    return HttpResponsePermanentRedirect(static("railstudio/favicon.svg"))
