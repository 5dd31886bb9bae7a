from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.html import escape


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login; the API answers 401/403 itself (session or token auth)."""

    exempt_prefixes = ("/api/", "/static/", "/healthz")

    def process_view(self, request, view_func, view_args, view_kwargs):
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
        from clusters.services import QueueUnavailable

        if not isinstance(exception, QueueUnavailable):
            return None
        message = escape(str(exception))
        body = f'<div class="alert error" role="alert">{message} Is the broker running?</div>'
        return HttpResponse(
            body if getattr(request, "htmx", False) else f"<h1>503</h1>{body}", status=503
        )
