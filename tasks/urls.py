from django.urls import path

from tasks import bulk_views, card_csv, pickers, saved_views, search_views, views
from tasks.boards import approvals, at_risk, calendar_feed, dispatch, home, my_work

urlpatterns = [
    path("", home, name="home"),
    path("at-risk/", at_risk.at_risk, name="at_risk"),
    path("dispatch/", dispatch.dispatch, name="dispatch"),
    path("dispatch/<int:pk>/assign/", dispatch.dispatch_assign, name="dispatch_assign"),
    path("my-work/", my_work.my_work, name="my_work"),
    path("my-work/<int:pk>/status/", my_work.my_work_status, name="my_work_status"),
    # The type-ahead pickers' searches (JSON; static/app.js).
    path("pick/people/", pickers.pick_people, name="pick_people"),
    path("pick/related-objects/", pickers.pick_related_objects, name="pick_related_objects"),
    path("pick/request-types/", pickers.pick_request_types, name="pick_request_types"),
    path("search/", search_views.search_cards, name="search"),
    path("views/", saved_views.saved_view_list, name="saved_views"),
    path("views/new/", saved_views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/rename/", saved_views.saved_view_rename, name="saved_view_rename"),
    path("views/<int:pk>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
    path("approvals/", approvals.approvals, name="approvals"),
    # A personal secret link (no login): the deadlines of my cards as iCalendar.
    path("calendar/<str:secret>.ics", calendar_feed.calendar_feed, name="calendar_feed"),
    path("cards/", views.task_list, name="task_list"),
    path("cards/bulk/", bulk_views.bulk_cards, name="task_bulk"),
    path("cards/export.csv", card_csv.card_list_csv, name="task_list_csv"),
    path("cards/new/", views.task_create, name="task_create"),
    path("cards/<int:pk>/", views.task_detail, name="task_detail"),
    path("cards/<int:pk>/timers/", views.task_timers, name="task_timers"),
    path("cards/<int:pk>/status/", views.task_status, name="task_status"),
    path("cards/<int:pk>/decide/", views.task_decide, name="task_decide"),
    path("cards/<int:pk>/watch/", views.task_watch, name="task_watch"),
    path("cards/<int:pk>/comment/", views.task_comment, name="task_comment"),
    path("cards/<int:pk>/assign/", views.task_assign, name="task_assign"),
    path("cards/<int:pk>/classify/", views.task_classify, name="task_classify"),
    path("cards/<int:pk>/next-step/", views.task_next_step, name="task_next_step"),
]
