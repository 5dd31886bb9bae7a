from django.urls import path

from planner.api import manifests

urlpatterns = [
    path(
        "plans/<str:plan>/manifests/",
        manifests.PlanManifestsView.as_view(),
        name="plan-manifests-api",
    ),
    path("preflight/", manifests.PreflightView.as_view(), name="preflight-api"),
]
