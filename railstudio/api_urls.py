from django.urls import include, path

urlpatterns = [
    path("", include("planner.api.urls")),
]
