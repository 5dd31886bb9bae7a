"""The clusters' API: its collections (served through railstudio.api_urls' one router, so /api/
lists them with the planner's) and the routes outside the router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from clusters.api import validation_views, views

router = DefaultRouter()
router.register("clusters", views.ClusterViewSet, basename="api-cluster")
router.register("rollouts", views.RolloutViewSet, basename="api-rollout")
router.register("exec-runs", views.ExecRunViewSet, basename="api-exec-run")
router.register("validations", validation_views.ValidationViewSet, basename="api-validation")

urlpatterns = [
    path("plans/<str:key>/rollouts/", views.PlanRolloutsView.as_view(), name="plan-rollouts"),
    path(
        "clusters/<int:pk>/validations/",
        validation_views.ClusterValidationsView.as_view(),
        name="cluster-validations",
    ),
]
