from django.urls import path

from tasks import views

urlpatterns = [
    path("", views.home, name="home"),
    path("cards/", views.task_list, name="task_list"),
    path("cards/new/", views.task_create, name="task_create"),
    path("cards/<int:pk>/", views.task_detail, name="task_detail"),
    path("cards/<int:pk>/timers/", views.task_timers, name="task_timers"),
    path("cards/<int:pk>/status/", views.task_status, name="task_status"),
    path("cards/<int:pk>/comment/", views.task_comment, name="task_comment"),
    path("cards/<int:pk>/assign/", views.task_assign, name="task_assign"),
    path("cards/<int:pk>/classify/", views.task_classify, name="task_classify"),
    path("cards/<int:pk>/next-step/", views.task_next_step, name="task_next_step"),
]
