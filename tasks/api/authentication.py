"""`Authorization: Bearer <token>` for Django REST framework: the request acts as the token's
user; `request.auth` is the ApiToken (its scope is checked by `tasks.api.permissions`)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from tasks.api import tokens
from tasks.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as: Authorization: Bearer <token>."
            )
        try:
            secret = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        found = getattr(request._request, "api_token", None)  # tasks.api.idempotency's
        token = found[1] if found and found[0] == secret else tokens.find_active(secret)
        if token is None or token.scope == ApiToken.Scope.CALENDAR:
            raise exceptions.AuthenticationFailed("The token is not valid, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when no credentials were sent.
        return 'Bearer realm="api"'
