"""URLs of the eHerkenning login and of the metadata the broker needs.

Two namespaces, because django-digid-eherkenning refers to them by name: ``eherkenning``
(``eherkenning:acs`` builds the ACS URL in the SP metadata) and ``metadata`` (the admin's
"View SAML metadata" and "View service catalogue" links).
"""

from __future__ import annotations

from digid_eherkenning.models import EherkenningConfiguration
from digid_eherkenning.saml2.eherkenning import (
    generate_dienst_catalogus_metadata,
    generate_eherkenning_metadata,
)
from digid_eherkenning.views.metadata import MetadataView
from django.urls import include, path

from . import views

login_patterns = [
    path("inloggen/", views.start, name="login"),
    path("acs/", views.acs, name="acs"),
]

metadata_patterns = [
    path(
        "metadata/",
        MetadataView.as_view(
            config_model=EherkenningConfiguration,
            metadata_generator=generate_eherkenning_metadata,
            filename="eherkenning-metadata.xml",
        ),
        name="eherkenning",
    ),
    path(
        "dienstcatalogus/",
        MetadataView.as_view(
            config_model=EherkenningConfiguration,
            metadata_generator=generate_dienst_catalogus_metadata,
            filename="dienstcatalogus.xml",
        ),
        name="eh-dienstcatalogus",
    ),
]

urlpatterns = [
    path("eherkenning/", include((login_patterns, "eherkenning"))),
    path("eherkenning/", include((metadata_patterns, "metadata"))),
]
