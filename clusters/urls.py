from django.urls import path

from clusters import discovery_views, lint_views, views

urlpatterns = [
    path("lint/", lint_views.lint, name="lint"),
    path("clusters/", views.cluster_list, name="cluster-list"),
    path("clusters/new/", views.cluster_create, name="cluster-create"),
    path("clusters/new/contexts/", views.kubeconfig_contexts, name="cluster-contexts"),
    path("clusters/<int:pk>/", views.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/connection/", views.connection_panel, name="cluster-connection"),
    path("clusters/<int:pk>/test/", views.cluster_test, name="cluster-test"),
    path("clusters/<int:pk>/delete/", views.cluster_delete, name="cluster-delete"),
    path("clusters/<int:pk>/drift/", views.drift_panel, name="cluster-drift"),
    path("clusters/<int:pk>/drift/check/", views.cluster_drift_check, name="cluster-drift-check"),
    path("clusters/<int:pk>/reconcile/", views.cluster_reconcile, name="cluster-reconcile"),
    path("clusters/<int:pk>/discovery/", discovery_views.discovery_panel, name="cluster-discovery"),
    path("clusters/<int:pk>/discover/", discovery_views.cluster_discover, name="cluster-discover"),
    path(
        "clusters/<int:pk>/discovery/<slug:slug>/import/",
        discovery_views.discovery_import,
        name="cluster-discovery-import",
    ),
    path("clusters/<int:pk>/plans/", views.cluster_bind, name="cluster-bind"),
    path(
        "clusters/<int:pk>/plans/<slug:slug>/unbind/",
        views.cluster_unbind,
        name="cluster-unbind",
    ),
    path("clusters/<int:pk>/rollouts/", views.cluster_rollout, name="cluster-rollout"),
    path("rollouts/<int:pk>/", views.rollout_detail, name="rollout-detail"),
    path("rollouts/<int:pk>/live/", views.rollout_live, name="rollout-live"),
    path("rollouts/<int:pk>/rollback/", views.rollout_rollback, name="rollout-rollback"),
    path("rollouts/<int:pk>/cancel/", views.rollout_cancel, name="rollout-cancel"),
    path("plans/<slug:slug>/rollouts/", views.plan_rollouts, name="plan-rollouts-page"),
    path(
        "plans/<slug:slug>/rollouts/start/",
        views.plan_rollout_start,
        name="plan-rollout-start",
    ),
]
