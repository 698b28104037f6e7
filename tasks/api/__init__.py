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
- cards, card_serializers: the cards themselves (list, create or upsert by reference,
  read, change with `If-Match`)
- card_access: the card if the caller may see it (else 404), and `If-Match`
- exceptions: every error as RFC 9457 problem details (the EXCEPTION_HANDLER), Conflict
  (409), PreconditionFailed (412), UnprocessableContent (422); middleware: the same shape
  for Django's own errors under /api/ and the request body cap
- idempotency: `Idempotency-Key` on every POST; limits: throttling and page sizes
- cursors: cursor pagination of these lists; summaries: a card in brief, a person
- strict: input is what the schema says (types, characters, query parameters) or a 400
- schema: how the OpenAPI document describes the Bearer tokens, problems and links
"""
