"""API tokens: the token, its user and the user's roles are read in one query, with the rules
Django's ModelBackend applies (own and group permissions, superusers all, inactive users
nothing), and nothing is remembered between requests."""

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from railstudio import roles

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_one_query_reads_the_token_its_user_and_roles(
    viewer, planner_user, operator_user, django_user_model, django_assert_num_queries
):
    admin = django_user_model.objects.create_superuser("root", password="pw-root")
    loner = django_user_model.objects.create_user("loner", password="pw-loner")
    loner.user_permissions.add(Permission.objects.get(codename="change_plan"))  # no group
    expected = {
        viewer: {"viewer"},
        planner_user: {"viewer", "planner"},
        operator_user: {"viewer", "planner", "operator"},
        admin: {"viewer", "planner", "operator"},
        loner: {"planner"},
    }
    for user, held in expected.items():
        key = Token.objects.create(user=user).key
        with django_assert_num_queries(1):
            found_user, token = roles.user_by_token(key)
            assert set(roles.roles_of(found_user)) == held, user.username
        assert (found_user.pk, token.key, token.user_id) == (user.pk, key, user.pk)
    assert roles.user_by_token("no-such-key") is None
    client = token_client(viewer)
    with django_assert_num_queries(1):  # the API root reads nothing else
        assert client.get("/api/").status_code == 200


def test_bad_tokens_and_inactive_users_are_refused(viewer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/plans/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"] == "Invalid token."
    inactive = token_client(viewer)
    viewer.is_active = False
    viewer.save()
    response = inactive.get("/api/plans/")
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_a_role_taken_away_counts_from_the_next_request(planner_user, seed_plan):
    client = token_client(planner_user)
    body = {"description": "edited"}
    assert client.patch(f"/api/plans/{seed_plan.pk}/", body, format="json").status_code == 200
    planner_user.groups.set([Group.objects.get(name="viewer")])
    refused = client.patch(f"/api/plans/{seed_plan.pk}/", body, format="json")
    assert refused.status_code == 403
    assert client.get(f"/api/plans/{seed_plan.pk}/").status_code == 200
