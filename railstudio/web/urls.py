from django.urls import path

from railstudio.web import dashboard

urlpatterns = [
    path("", dashboard.dashboard, name="home"),
    path("dashboard/<slug:section>/", dashboard.dashboard_section, name="dashboard-section"),
]
