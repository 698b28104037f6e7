from django.contrib import admin

from reports.models import DigestSent


@admin.register(DigestSent)
class DigestSentAdmin(admin.ModelAdmin):
    list_display = ["team", "week_start", "recipient", "sent_at"]
    list_filter = ["week_start"]
    readonly_fields = ["team", "week_start", "recipient", "sent_at"]
