from django.utils import timezone

from tasks.profiles import SESSION_KEY, remember_in_session, stored_zone_name, zone_named


class ViewerTimezoneMiddleware:
    """Show times in the viewer's timezone: the one she stored on /profile/ (kept in her
    session, tasks.profiles), else the one her browser reports in the `tz` cookie (set by
    static/app.js), else the server's TIME_ZONE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_named(self._stored(request)) or zone_named(request.COOKIES.get("tz", ""))
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)

    @staticmethod
    def _stored(request) -> str:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return ""
        stored = request.session.get(SESSION_KEY)
        if stored is None:  # a session from before the copy: read once, keep the answer
            stored = stored_zone_name(user)
            remember_in_session(request.session, stored)
        return stored
