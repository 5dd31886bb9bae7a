from django.urls import path

from clusters import validation_pages as views

urlpatterns = [
    path(
        "clusters/<int:pk>/validations/start/",
        views.cluster_validation_start,
        name="cluster-validation-start",
    ),
    path(
        "clusters/<int:pk>/validations/schedule/",
        views.validation_schedule,
        name="cluster-validation-schedule",
    ),
    path("plans/<slug:slug>/validations/", views.plan_validations, name="plan-validations"),
    path(
        "plans/<slug:slug>/validations/start/",
        views.plan_validation_start,
        name="plan-validation-start",
    ),
    path("validations/<int:pk>/", views.validation_detail, name="validation-detail"),
    path("validations/<int:pk>/live/", views.validation_live, name="validation-live"),
    path("validations/<int:pk>/cancel/", views.validation_cancel, name="validation-cancel"),
    path("validations/<int:pk>/report.html", views.validation_report, name="validation-report"),
    path("validations/<int:pk>/report.json", views.validation_json, name="validation-json"),
    path(
        "validations/<int:pk>/rails/<int:rail>/heatmap.png",
        views.validation_heatmap,
        name="validation-heatmap",
    ),
    path(
        "validations/<int:pk>/rails/<int:rail>/cell/", views.validation_cell, name="validation-cell"
    ),
]
