from django.urls import path

from reports import views

urlpatterns = [
    path("", views.index, name="reports"),
    path("calibration/", views.calibration_page, name="reports_calibration"),
    path("calibration/apply/", views.calibration_apply, name="reports_calibration_apply"),
    path(
        "calibration/applied/<int:pk>/undo/",
        views.calibration_undo,
        name="reports_calibration_undo",
    ),
    path("weekly/", views.weekly, name="reports_weekly"),
    path("<slug:slug>/", views.report_page, name="reports_page"),
]
