"""Everything under /api/. One router holds the collections of both apps, so the API root lists
every collection; it is built from the apps' own routers, so a viewset an app registers shows up
here without touching this file."""

from rest_framework.routers import DefaultRouter

from clusters.api import urls as cluster_api
from planner.api import manifest_urls as manifest_api
from planner.api import urls as planner_api

ROOT_LINKS = {"schema": "schema", "docs": "api-docs"}  # not collections, but where to read more


class StudioRouter(DefaultRouter):
    def get_api_root_view(self, api_urls=None):
        list_name = self.routes[0].name
        collections = {
            prefix: list_name.format(basename=basename) for prefix, _, basename in self.registry
        }
        return self.APIRootView.as_view(api_root_dict={**collections, **ROOT_LINKS})


def combined_router(*routers: DefaultRouter) -> StudioRouter:
    router = StudioRouter()
    for app_router in routers:
        router.registry.extend(app_router.registry)
    return router


router = combined_router(planner_api.router, cluster_api.router)

urlpatterns = [
    *cluster_api.urlpatterns,
    *planner_api.urlpatterns,
    *manifest_api.urlpatterns,
    *router.urls,
]
