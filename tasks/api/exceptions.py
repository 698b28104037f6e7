"""The API's own refusals, beside DRF's: raised by the views, formatted centrally (RFC 9457
problem details) like every other error."""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException


class Conflict(APIException):
    """The card's state does not allow this (a move the workflow forbids): 409 with the
    workflow's message."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The card's state does not allow this."
    default_code = "conflict"


class PreconditionFailed(APIException):
    """`If-Match` named a version of the card that is no longer its version: 412."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The card changed since that version: read it again and retry."
    default_code = "precondition_failed"
