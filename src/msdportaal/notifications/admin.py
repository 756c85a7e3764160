from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from solo.admin import SingletonModelAdmin

from msdportaal.core.admin import AccessibleFormsMixin, PortalModelAdmin, ReadOnlyAdminMixin

from .models import Contact, EmailLedger, Notification, NotificationSettings


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(AccessibleFormsMixin, SingletonModelAdmin):
    pass


@admin.register(Contact)
class ContactAdmin(PortalModelAdmin):
    list_display = ("municipality", "name", "email", "added_by")
    search_fields = ("name", "email", "municipality__name", "municipality__code")
    list_select_related = ("municipality",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """What the portal told a gemeente: written by the application only."""

    list_display = ("created_at", "municipality", "event", "title", "read_at")
    list_filter = ("event", "created_at")
    search_fields = ("title", "municipality__name", "key")
    list_select_related = ("municipality",)
    fields = ("municipality", "event", "title", "body", "link", "key", "created_at", "read_at")


@admin.register(EmailLedger)
class EmailLedgerAdmin(ReadOnlyAdminMixin, PortalModelAdmin):
    """The e-mail log: each e-mail once per recipient per event. IB looks; the ledger is
    the once-only guarantee, so nothing is added, changed or removed here."""

    # What fits at 1280 px beside the menu and the filters; the rest is on its page.
    list_display = ("created_at", "state", "recipient", "subject_or_key", "attempts")
    list_filter = ("state", "created_at")
    search_fields = ("key", "recipient", "subject", "municipality__name")
    list_select_related = ("municipality",)
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {"fields": ("recipient", "municipality", "key", "subject")},
        ),
        (
            _("Verzending"),
            {
                "fields": (
                    "state",
                    "attempts",
                    "created_at",
                    "claimed_at",
                    "next_attempt_at",
                    "sent_at",
                    "error",
                )
            },
        ),
        (_("Inhoud (alleen bij bewaarde e-mails)"), {"fields": ("body", "html")}),
    )

    @admin.display(description=_("onderwerp"), ordering="subject")
    def subject_or_key(self, obj: EmailLedger) -> str:
        return obj.subject or obj.key
