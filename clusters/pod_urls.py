"""Routes of the pod pages."""

from django.urls import path

from clusters import pod_views

urlpatterns = [
    path("clusters/<int:pk>/pods/", pod_views.cluster_pods, name="cluster-pods"),
    path("clusters/<int:pk>/pods/table/", pod_views.pods_table, name="cluster-pods-table"),
    path("clusters/<int:pk>/pods/refresh/", pod_views.pods_refresh, name="cluster-pods-refresh"),
    path(
        "clusters/<int:pk>/pods/<str:namespace>/<str:name>/",
        pod_views.pod_detail,
        name="cluster-pod",
    ),
    path(
        "clusters/<int:pk>/pods/<str:namespace>/<str:name>/exec/",
        pod_views.pod_exec,
        name="cluster-pod-exec",
    ),
    path("clusters/<int:pk>/exec/<int:run_id>/", pod_views.exec_run, name="cluster-exec-run"),
]
