from django.urls import include, path

urlpatterns = [
    path("", include("clusters.api.urls")),
    path("", include("planner.api.urls")),
    path("", include("planner.api.manifest_urls")),
]
