from sla.models import Notification


def navigation(request):
    """The unread count of the nav bell (one query per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": lambda: Notification.objects.unread_for(user).count()}
