from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from railstudio.views import favicon, healthz

# The API and the health check first: URLs are matched in order, and these are the calls
# machines make many times a second (the pages' patterns no longer run for each of them).
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script, as the CSP asks.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("railstudio.api_urls")),
    path("", include("railstudio.web.urls")),
    path("", include("planner.manifest_urls")),
    path("", include("planner.urls")),
    path("", include("clusters.urls")),
    path("", include("clusters.pod_urls")),
    path("", include("clusters.validation_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
]

handler400 = "railstudio.views.bad_request"
handler404 = "railstudio.views.not_found"
handler500 = "railstudio.views.server_error"
