"""How the OpenAPI document describes our Bearer tokens (`tasks.api.authentication`), so
clients and schemathesis send `Authorization: Bearer <token>`. Registered by being imported
(tasks.api.urls)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tasks.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
