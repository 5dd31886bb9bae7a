"""/api/ lists every collection of both apps, from their routers."""

import pytest

from clusters.api import urls as cluster_api
from planner.api import urls as planner_api
from railstudio.api_urls import router

pytestmark = pytest.mark.django_db


def test_the_root_lists_every_collection_of_both_routers(viewer_api, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the user's permissions
        response = viewer_api.get("/api/")
    assert response.status_code == 200
    listed = response.json()
    registered = [
        prefix for prefix, _, _ in planner_api.router.registry + cluster_api.router.registry
    ]
    collections = [prefix for prefix in registered if prefix != "exec-runs"]  # no list: runs only
    assert list(listed) == [*collections, "schema", "docs"]
    assert {"plans", "rails", "exclusions", "nodes", "nics", "clusters", "rollouts"} <= set(listed)
    for prefix in collections:
        assert listed[prefix] == f"http://testserver/api/{prefix}/"
        assert viewer_api.get(listed[prefix]).status_code == 200, prefix
    assert viewer_api.get(listed["schema"]).status_code == 200


def test_the_root_router_is_the_apps_routers_together():
    """Built from the apps' routers at import, not from a list written here."""
    assert [entry[0] for entry in router.registry] == [
        entry[0] for entry in planner_api.router.registry + cluster_api.router.registry
    ]
