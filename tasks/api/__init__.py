"""The JSON API, version 1 (`/api/v1/`): cards, their moves, comments, timers and history,
and the reference data, for CRMs, chats and scripts. A screen like the pages: every write
goes through `tasks.actions` with the permission rules of `tasks.permissions`.

- tokens: personal API tokens (make, find by secret, revoke)
- authentication: `Authorization: Bearer <token>` for Django REST framework
- urls: the routes, the OpenAPI schema and its docs
"""
