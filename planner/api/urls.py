from rest_framework.routers import DefaultRouter

from planner.api import views

router = DefaultRouter()
router.register("plans", views.PlanViewSet)
router.register("rails", views.RailViewSet)
router.register("exclusions", views.ExclusionViewSet)
router.register("nodes", views.NodeViewSet)
router.register("nics", views.NodeNICViewSet)

urlpatterns = router.urls
