"""Every collection of the API keeps the same contract, checked for each one the router holds
(as healthchecks tests each endpoint's 403, 404 and 405): no credentials is a 401 that names
the Token scheme, a viewer's write is a 403, a missing row is a 404, a method the route does
not take is a 405 that says which it does."""

import pytest
from rest_framework.test import APIClient

from railstudio.api_urls import router

pytestmark = pytest.mark.django_db

COLLECTIONS = [prefix for prefix, _, _ in router.registry]
VIEWSETS = {prefix: viewset for prefix, viewset, _ in router.registry}
LISTED = [
    prefix for prefix in COLLECTIONS if hasattr(VIEWSETS[prefix], "list")
]  # exec runs: no list


def urls(prefix: str) -> list[str]:
    detail = f"/api/{prefix}/{MISSING}/"
    return [f"/api/{prefix}/", detail] if prefix in LISTED else [detail]


MISSING = 987654321
WRITES = ("post", "put", "patch", "delete")


@pytest.mark.parametrize("prefix", COLLECTIONS)
def test_no_credentials_is_a_401_naming_the_token_scheme(prefix):
    anonymous = APIClient()
    for url in urls(prefix):
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"].startswith("Token"), url


@pytest.mark.parametrize("prefix", COLLECTIONS)
def test_a_viewer_cannot_write(viewer_api, prefix):
    for method in WRITES:
        url = urls(prefix)[0] if method == "post" else urls(prefix)[-1]
        response = getattr(viewer_api, method)(url, {}, format="json")
        assert response.status_code == 403, (method, url, response.content)
        assert "role" in response.json()["detail"], (method, url)


@pytest.mark.parametrize("prefix", COLLECTIONS)
def test_a_missing_row_is_a_404(operator_api, prefix):
    response = operator_api.get(f"/api/{prefix}/{MISSING}/")
    assert response.status_code == 404, response.content
    for junk in ("abc", "1.5", "99999999999999999999999"):
        assert operator_api.get(f"/api/{prefix}/{junk}/").status_code == 404, junk


@pytest.mark.parametrize("prefix", COLLECTIONS)
def test_a_method_the_route_does_not_take_is_a_405(operator_api, prefix):
    viewset = VIEWSETS[prefix]
    refused = [(f"/api/{prefix}/", method) for method in ("put", "patch", "delete")]
    refused = refused if prefix in LISTED else []
    for action, method in (("update", "put"), ("partial_update", "patch"), ("destroy", "delete")):
        if not hasattr(viewset, action):
            refused.append((f"/api/{prefix}/{MISSING}/", method))
    assert refused, "every collection refuses some method"
    for url, method in refused:
        response = getattr(operator_api, method)(url, {}, format="json")
        assert response.status_code == 405, (method, url, response.content)
        assert "GET" in response["Allow"], (method, url)
        assert method.upper() not in response["Allow"], (method, url)
