"""The JSON API, version 1 (`/api/v1/`): cards, their moves, comments, timers and history,
and the reference data, for CRMs, chats and scripts. A screen like the pages: every write
goes through `tasks.actions` with the permission rules of `tasks.permissions`.

- tokens: personal API tokens (make, find by secret, revoke)
- authentication: `Authorization: Bearer <token>` for Django REST framework
- urls: the routes, the OpenAPI schema and its docs
- card_actions: a card's moves (`transitions/`), comments and typed history (`events/`)
- card_timers: a card's SLA timers with the explanation of each deadline
- timer_queue: the at-risk queue as data (`timers/`), in the page's order
- reference: request types, teams, blocking reasons, people, related objects (found or
  made by kind + external reference)
- card_access: the card if the caller may see it (else 404), and `If-Match`
- exceptions: Conflict (409) and PreconditionFailed (412)
- cursors: cursor pagination of these lists; summaries: a card in brief, a person
- strict: input is what the schema says (types, characters, query parameters) or a 400
- openapi: how the schema describes the Bearer tokens
"""
