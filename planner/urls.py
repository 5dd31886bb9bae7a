from django.urls import path

from planner import import_views, views

urlpatterns = [
    path("plans/", views.plan_list, name="plan-list"),
    path("plans/new/", views.plan_create, name="plan-create"),
    path("plans/new/preview/", views.plan_create_preview, name="plan-create-preview"),
    path("plans/import/", views.plan_import, name="plan-import"),
    path("plans/<slug:slug>/", views.plan_detail, name="plan-detail"),
    path(
        "plans/<slug:slug>/rails/<int:index>/exclusions/",
        views.exclusion_add,
        name="exclusion-add",
    ),
    path(
        "plans/<slug:slug>/rails/<int:index>/exclusions/drag/",
        views.exclusion_drag,
        name="exclusion-drag",
    ),
    path(
        "plans/<slug:slug>/exclusions/<int:pk>/delete/",
        views.exclusion_delete,
        name="exclusion-delete",
    ),
    path("plans/<slug:slug>/nodes/", views.plan_nodes, name="plan-nodes"),
    path("plans/<slug:slug>/nodes/import/", views.node_import, name="node-import"),
    path(
        "plans/<slug:slug>/nodes/imports/<int:pk>/",
        import_views.node_import_job,
        name="node-import-job",
    ),
    path("plans/<slug:slug>/nodes/allocate/", views.host_ip_allocate, name="host-ip-allocate"),
]
