"""The at-risk queue's HTML cache: its key and the signals that drop it.

The queue's HTML is kept this long per visibility scope, teams shown (`tasks.boards.scope`:
the team ids, so "My teams" is right after a change of membership), query string and
viewer's timezone
(its times are shown in it): a manager's screen polls every 30 s, and many managers share one
scope. A change saved in this process (a card or timer saved) drops it at once; changes made
elsewhere (other workers, the scan) show within QUEUE_CACHE_SECONDS. The first request of
each key is the uncached cost.

The receivers below are connected when this module is imported, which `tasks.boards` does.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from sla.models import SlaTimer
from tasks.boards.scope import TeamScope
from tasks.models import Task

QUEUE_CACHE_SECONDS = 10
_GENERATION_KEY = "at-risk:generation"


@receiver([post_save, post_delete], sender=SlaTimer)
@receiver([post_save, post_delete], sender=Task)
def _queue_changed(**kwargs) -> None:
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # not set yet, or expired
        cache.set(_GENERATION_KEY, 1, None)


def queue_cache_key(request: HttpRequest, *, everything: bool, scope: TeamScope) -> str:
    """The key of the queue's HTML for this viewer's visibility (`everything`: sees all
    cards), the teams shown (`scope`), query string and timezone, at the current generation
    of saved changes."""
    visible = "all" if everything else f"user:{request.user.pk}"
    scope_key = f"{visible}|{scope.cache_key}"
    query = urlencode(sorted((k, v) for k, values in request.GET.lists() for v in values))
    generation = cache.get(_GENERATION_KEY, 0)
    zone = timezone.get_current_timezone_name()
    digest = hashlib.sha256(f"{scope_key}|{generation}|{zone}|{query}".encode()).hexdigest()
    return f"at-risk:{digest}"
