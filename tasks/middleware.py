from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone


class ViewerTimezoneMiddleware:
    """Show times in the viewer's timezone, reported by the browser in the `tz` cookie
    (set by static/app.js); the server's TIME_ZONE otherwise."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get("tz", "")
        try:
            zone = ZoneInfo(name) if name and "\x00" not in name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
