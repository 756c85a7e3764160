from django.contrib import admin
from solo.admin import SingletonModelAdmin

from .models import Contact, EmailLedger, Notification, NotificationSettings

admin.site.register(NotificationSettings, SingletonModelAdmin)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("municipality", "name", "email", "added_by")
    search_fields = ("name", "email", "municipality__name", "municipality__code")
    list_select_related = ("municipality",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "municipality", "event", "title", "read_at")
    list_filter = ("event", "created_at")
    search_fields = ("title", "municipality__name", "key")
    readonly_fields = (
        "municipality",
        "event",
        "key",
        "title",
        "body",
        "link",
        "created_at",
        "read_at",
    )


@admin.register(EmailLedger)
class EmailLedgerAdmin(admin.ModelAdmin):
    list_display = ("created_at", "key", "recipient", "municipality", "state", "attempts", "error")
    list_filter = ("state",)
    search_fields = ("key", "recipient")
    readonly_fields = [f.name for f in EmailLedger._meta.fields]
