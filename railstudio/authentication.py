"""API token authentication that reads the token, its user and the user's roles in one query
(railstudio.roles.user_by_token), instead of one for the token and two for the permissions."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from railstudio import roles


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        found = roles.user_by_token(key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user, token = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
