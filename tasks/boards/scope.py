"""Which teams' cards a board shows: the viewer's own ("My teams", the default) or every team
("All teams"), chosen with `?teams=mine|all` on the dispatch board and the at-risk queue.

- "My teams": cards of the teams the viewer is a member or the manager of
  (`tasks.permissions.teams_of`), and cards without a team, which no team leads
  (`TaskQuerySet.of_teams`). Actionable work first.
- "All teams": every card the viewer may see (`Task.objects.visible_to`). The switch is
  offered to those who see every card (`tasks.queries.sees_all`: managers, dispatchers,
  observers, staff); anyone else sees her teams and the cards she works on, which is what
  `visible_to` gives her anyway, and no switch.
- A viewer in no team sees all teams she may see, and the page says so.
- Any other value of `teams` is not understood: the default is shown and the page says so
  (never an error).

Reading the viewer's teams is one query, none for "All teams" and for those who do not see
every card.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from tasks.permissions import TeamsOf, teams_of
from tasks.queries import TaskQuerySet, sees_all

MINE, ALL = "mine", "all"
PARAMETER = "teams"
CHOICES = ((MINE, "My teams"), (ALL, "All teams"))


@dataclass(frozen=True)
class TeamScope:
    """The teams a board shows. `team_ids` None: every card the viewer may see."""

    choice: str  # MINE or ALL: what the page shows as chosen
    team_ids: frozenset[int] | None  # also None for "My teams" when they are every team
    can_switch: bool  # the viewer sees every card, so "All teams" is more than hers
    no_team: bool  # she is in no team: all teams shown
    not_understood: str  # a `teams` value that was ignored ("" when none)
    teams: TeamsOf | None  # her teams when read (for `tasks.permissions.assign_right`)

    def cards(self, cards: TaskQuerySet) -> TaskQuerySet:
        return cards if self.team_ids is None else cards.of_teams(self.team_ids)

    @property
    def cache_key(self) -> str:
        """What the scope adds to a cached page's key: the teams shown (viewers with the
        same teams share an entry)."""
        if self.team_ids is None:
            return ALL
        return "teams:" + ",".join(str(pk) for pk in sorted(self.team_ids))

    def links(self, request: HttpRequest) -> list[tuple[str, str, bool]]:
        """(label, query string, current) of each choice, keeping the page's other
        parameters but its page number."""
        links = []
        for value, label in CHOICES:
            query = request.GET.copy()
            query.pop("page", None)
            query[PARAMETER] = value
            links.append((label, query.urlencode(), value == self.choice))
        return links


def team_scope(request: HttpRequest) -> TeamScope:
    """The scope a request asks for (`?teams=`), with the rules of the module docstring."""
    user = request.user
    asked = request.GET.get(PARAMETER, MINE)
    # Shown back (escaped) to say what was ignored: its first printable characters.
    not_understood = "" if asked in (MINE, ALL) else "".join(filter(str.isprintable, asked))[:50]
    if not sees_all(user):  # what she may see is her teams and her own cards: all of it
        return TeamScope(MINE, None, False, False, not_understood, None)
    if asked == ALL:
        return TeamScope(ALL, None, True, False, not_understood, None)
    teams = teams_of(user)
    if not teams.all:
        return TeamScope(ALL, None, True, True, not_understood, teams)
    # Her teams are every team (a manager of them all): "My teams" is every card, read as
    # "All teams" is (the queue's whole-queue path, not every open card picked by team).
    team_ids = None if teams.every_team else teams.all
    return TeamScope(MINE, team_ids, True, False, not_understood, teams)
