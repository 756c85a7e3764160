"""The admin pages that need several apps' data together. ``operations`` sits on top of
every app, so it is the one that may: IB's start page (``admin_site.PortalAdminSite``)
and, on the gemeenten list, the filter its numbers link to."""

from __future__ import annotations

from msdportaal.organisations.admin import MunicipalityAdmin

from .dashboard import DeliveryStatusFilter

MunicipalityAdmin.list_filter = (*MunicipalityAdmin.list_filter, DeliveryStatusFilter)
