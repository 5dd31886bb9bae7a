from django.urls import path

from planner import manifest_views

urlpatterns = [
    path("plans/<slug:slug>/manifests/", manifest_views.plan_manifests, name="plan-manifests"),
    path(
        "plans/<slug:slug>/manifests/download/",
        manifest_views.manifests_download,
        name="plan-manifests-download",
    ),
    path("highlight.css", manifest_views.highlight_css, name="highlight-css"),
]
