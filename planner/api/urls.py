"""The planner's API collections; railstudio.api_urls serves them under one router with the
clusters' collections, so /api/ lists them all."""

from rest_framework.routers import DefaultRouter

from planner.api import imports, views

router = DefaultRouter()
router.register("plans", basename="api-plan", viewset=views.PlanViewSet)
router.register("rails", basename="api-rail", viewset=views.RailViewSet)
router.register("exclusions", basename="api-exclusion", viewset=views.ExclusionViewSet)
router.register("nodes", basename="api-node", viewset=views.NodeViewSet)
router.register("nics", basename="api-nic", viewset=views.NodeNICViewSet)
router.register(
    "inventory-imports", basename="api-inventory-import", viewset=imports.InventoryImportViewSet
)

urlpatterns: list = []  # routes outside the router; the router's own are served by api_urls
