"""What a token may do: a read token only reads (GET, HEAD, OPTIONS); a write token also
writes. Which cards it may see or change is `tasks.permissions`, as on the pages."""

from __future__ import annotations

from rest_framework import permissions

from tasks.models import ApiToken


class TokenScope(permissions.BasePermission):
    message = "This token may only read: make a token with the write scope to change cards."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        token = request.auth
        # Session-authenticated requests (the browsable docs) are not token-scoped.
        return not isinstance(token, ApiToken) or token.scope == ApiToken.Scope.WRITE
