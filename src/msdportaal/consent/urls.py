from django.urls import path

from . import views

app_name = "consent"

urlpatterns = [
    path("toestemming/", views.consent_forms, name="forms"),
    path("toestemming/<uuid:form_id>/controleren/", views.check, name="check"),
    path("toestemming/<uuid:form_id>/bevestiging/", views.confirmation, name="confirmation"),
    path("toestemming/<uuid:form_id>/ontvangstbewijs/", views.receipt, name="receipt"),
    path("toestemming/<uuid:form_id>/ontvangstbewijs.pdf", views.receipt_pdf, name="receipt_pdf"),
]
