from csp.middleware import CSPMiddleware
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.html import escape


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login; the API answers 401/403 itself (session or token auth). The
    API docs are a page: they send a visitor to the login form."""

    exempt_prefixes = ("/api/", "/static/", "/healthz")
    pages_under_exempt = ("/api/docs/",)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(self.pages_under_exempt):
            # drf-spectacular marks its views login_not_required; here they are pages.
            if request.user.is_authenticated:
                return None
            return self.handle_no_permission(request, view_func)
        if request.path.startswith(self.exempt_prefixes):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            # An expired session during an htmx swap: send the whole page to the login form
            # instead of swapping the login page into a fragment.
            login = redirect_to_login(
                request.get_full_path(), resolve_url(self.get_login_url(view_func))
            )
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login["Location"]
            return response
        return super().handle_no_permission(request, view_func)


class QueueUnavailableMiddleware:
    """A page that queues a task while the Celery broker is down answers 503 with the reason
    (inline for htmx), not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from railstudio.queueing import QueueUnavailable

        if not isinstance(exception, QueueUnavailable):
            return None
        message = escape(str(exception))
        body = f'<div class="alert error" role="alert">{message} Is the broker running?</div>'
        return HttpResponse(
            body if getattr(request, "htmx", False) else f"<h1>503</h1>{body}", status=503
        )


class BodySizeLimitMiddleware:
    """A request whose declared body is over settings.MAX_BODY_BYTES answers 413 before anything
    reads it (the API parsers and the pages' uploads share the limit)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_BODY_BYTES
        if length > limit:
            from railstudio.uploads import limit_text

            if length <= DRAIN_FACTOR * limit:
                _drain(request)
            message = (
                f"The request body ({length} bytes) is larger than the limit of {limit_text()}."
            )
            return _refusal(request, 413, message)
        return self.get_response(request)


DRAIN_FACTOR = 8


def _drain(request) -> None:
    """Read and drop the body (chunk by chunk, nothing kept), so that a client still sending
    gets the 413 rather than a reset connection. A body past DRAIN_FACTOR x the limit is not
    read: its connection is dropped with it."""
    while request.read(1 << 16):
        pass


class RejectNulMiddleware:
    """A path or query string holding a NUL character answers 400: PostgreSQL cannot compare
    text with NULs, and no name or value of Rail Studio holds one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return _refusal(request, 400, "The URL may not contain NUL (%00) characters.")
        return self.get_response(request)


def _refusal(request, status: int, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(
        f'<h1>{status}</h1><div class="alert error" role="alert">{escape(message)}</div>',
        status=status,
    )


# What a JSON answer may load or be framed by, if a browser ever shows one: nothing.
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY) on what a browser renders: pages,
    the API docs, SVG. A JSON answer takes JSON_POLICY, fixed, instead of a policy built again
    for every API call."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/json"):
            response.setdefault("Content-Security-Policy", JSON_POLICY)
            return response
        return super().process_response(request, response)


class PageMessagesMiddleware(MessageMiddleware):
    """Django's one-time messages, for pages only: the API neither shows nor keeps them, and
    setting up their store (a signed cookie and the session) cost every API call time."""

    def process_request(self, request):
        if not request.path.startswith("/api/"):
            super().process_request(request)
