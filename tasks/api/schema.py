"""The OpenAPI document's shared parts, added to every operation by a postprocessing hook
(so each endpoint, of any module, documents them without repeating them): the problem
responses (tasks.api.exceptions), `Idempotency-Key` on every POST and the rate limit."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tasks.api.exceptions import PROBLEM_CONTENT_TYPE
from tasks.api.idempotency import HEADER, KEY_MAX_LENGTH, KEY_PATTERN

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details: every error of the API.",
    "properties": {
        "type": {"type": "string", "description": "about:blank: the status says it all."},
        "title": {"type": "string", "description": "The HTTP status phrase."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, in words."},
        "code": {"type": "string", "description": "A stable machine-readable name."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "attr": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
                "required": ["attr", "code", "detail"],
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code", "errors"],
}

ALWAYS = {
    "400": "The request is not valid (see `errors`).",
    "401": "No valid token: send `Authorization: Bearer <token>`.",
    "403": "The token's user (or its read scope) may not do this.",
    "404": "Not found, or not visible to the token's user.",
    "406": "Only JSON is served.",
    "422": "Well-formed but not processable: it names a row that does not exist, a date "
    "outside 2000-2099, or the workflow refuses it (see `detail`).",
    "429": "Too many requests for this token: retry after `Retry-After` seconds.",
}
WITH_BODY = {
    "413": "The request body is too large.",
    "415": "Send the body as application/json.",
}
POST = {
    "409": f"A request with this {HEADER} is still being processed, or a conflict.",
}
WRITE = {
    "412": "`If-Match` names a version of the card that is no longer current.",
}
# Every answer that is one card carries its version as ETag (tasks.api.cards).
CARD = "#/components/schemas/Card"
ETAG = {
    "schema": {"type": "string"},
    "required": True,
    "description": 'The card\'s version, quoted ("3"): send it back as If-Match.',
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


def problem_responses(method: str) -> dict[str, str]:
    statuses = dict(ALWAYS)
    if method in ("post", "put", "patch"):
        statuses |= WITH_BODY | WRITE
    if method == "post":
        statuses |= POST
    return statuses


def add_links(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """OpenAPI links from each create (a POST on a collection, `…/cards/`) to every operation
    on what it made (`…/cards/{id}/` and below), by the `id` of the answer: the stateful
    tests (schemathesis) follow them, clients may too. drf-spectacular's POSTPROCESSING_HOOKS
    entry."""
    paths = result.get("paths", {})
    for collection, methods in paths.items():
        create = methods.get("post")
        if not isinstance(create, dict) or not collection.endswith("/"):
            continue
        links = {}
        for path, operations in paths.items():
            rest = path[len(collection) :] if path.startswith(collection) else ""
            if not rest.startswith("{") or "}" not in rest:
                continue
            parameter = rest[1 : rest.index("}")]
            for operation in operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {f"path.{parameter}": "$response.body#/id"},
                    }
        for status in ("200", "201"):
            if links and status in create.get("responses", {}):
                create["responses"][status]["links"] = links
    return result


def add_problems(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular's POSTPROCESSING_HOOKS entry."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    reference = {"$ref": "#/components/schemas/Problem"}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for answer in operation["responses"].values():
                body = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if body.get("$ref") == CARD:
                    answer.setdefault("headers", {})["ETag"] = ETAG
            for status, description in problem_responses(method).items():
                answer = operation["responses"].setdefault(status, {"description": description})
                answer.setdefault("content", {})[PROBLEM_CONTENT_TYPE] = {"schema": reference}
                if status in ("429", "409"):
                    answer["headers"] = RETRY_AFTER
            if method == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == HEADER for p in parameters):
                    parameters.append(
                        {
                            "in": "header",
                            "name": HEADER,
                            "required": False,
                            "schema": {"type": "string", "minLength": 1,
                                       "maxLength": KEY_MAX_LENGTH,
                                       "pattern": f"^{KEY_PATTERN}$"},
                            "description": "Send the same key again to get the first answer "
                            "instead of doing the work twice (kept 24 h, per token).",
                        }
                    )  # fmt: skip
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <token>` in the document (tasks.api.authentication)."""

    target_class = "tasks.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token: manage.py create_api_token USERNAME --scope write",
        }
