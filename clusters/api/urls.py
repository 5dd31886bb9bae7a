from django.urls import path
from rest_framework.routers import DefaultRouter

from clusters.api import views

router = DefaultRouter()
router.register("clusters", views.ClusterViewSet, basename="api-cluster")
router.register("rollouts", views.RolloutViewSet, basename="api-rollout")
router.register("exec-runs", views.ExecRunViewSet, basename="api-exec-run")

urlpatterns = [
    path("plans/<str:key>/rollouts/", views.PlanRolloutsView.as_view(), name="plan-rollouts"),
    *router.urls,
]
