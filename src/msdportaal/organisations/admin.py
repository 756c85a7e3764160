from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from msdportaal.core.admin import AccessibleFormsMixin, PortalModelAdmin

from .models import Municipality, User


@admin.register(Municipality)
class MunicipalityAdmin(PortalModelAdmin):
    list_display = ("code", "gm_code", "name", "province", "kvk_number", "oin", "inactive_from")
    list_filter = ("province", ("inactive_from", admin.EmptyFieldListFilter))
    search_fields = ("code", "name", "kvk_number", "rsin", "oin")
    readonly_fields = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "name", "province", "inactive_from")}),
        (_("eHerkenning"), {"fields": ("kvk_number", "rsin", "oin")}),
    )

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        # A gemeente that disappears is marked inactive, never deleted (links must hold).
        return False

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return ("code",) if obj is not None else ()


@admin.register(User)
class UserAdmin(AccessibleFormsMixin, DjangoUserAdmin):
    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "municipalities__province")
    search_fields = ("username", "first_name", "last_name", "email", "municipalities__name")
    filter_horizontal = ("municipalities", "groups", "user_permissions")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            _("Portaal"),
            {
                "fields": (
                    "municipalities",
                    "phone",
                    "identity_pseudonym",
                    "profile_completed_at",
                )
            },
        ),
    )
    readonly_fields = ("identity_pseudonym", "profile_completed_at", "last_login", "date_joined")
