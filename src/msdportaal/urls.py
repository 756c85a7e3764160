from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from maykin_2fa import monkeypatch_admin
from maykin_2fa.urls import urlpatterns as mfa_urlpatterns

from msdportaal.operations.admin_site import PortalAdminSite

monkeypatch_admin()
# maykin-2fa's admin site (a second factor for every administrator), with IB's start page.
admin.site.__class__ = PortalAdminSite

admin.site.site_header = _("MSD Portaal — beheer")
admin.site.site_title = _("MSD Portaal beheer")
admin.site.index_title = _("Beheer")

handler400 = "msdportaal.core.views.bad_request"
handler403 = "msdportaal.core.views.permission_denied"
handler404 = "msdportaal.core.views.page_not_found"
handler500 = "msdportaal.core.views.server_error"

urlpatterns = [
    path(f"{settings.MSD_ADMIN_PATH}/", include((mfa_urlpatterns, "maykin_2fa"))),
    path(f"{settings.MSD_ADMIN_PATH}/", admin.site.urls),
    path("", include("msdportaal.organisations.urls")),
    path("", include("msdportaal.organisations.eherkenning.urls")),
    path("", include("msdportaal.core.urls")),
    path("", include("msdportaal.deliveries.urls")),
    path("", include("msdportaal.transport.urls")),
    path("", include("msdportaal.reports.urls")),
    path("", include("msdportaal.consent.urls")),
    path("", include("msdportaal.notifications.urls")),
    path("", include("msdportaal.agenda.urls")),
    path("", include("msdportaal.overview.urls")),
    path("", include("msdportaal.operations.urls")),
    path("", include("msdportaal.api.urls")),
]
