from django.urls import path

from . import views

app_name = "deliveries"

urlpatterns = [
    path("aanleveren/", views.upload, name="upload"),
    path("aanleveren/<uuid:batch_id>/controleren/", views.check, name="check"),
    path("aanleveren/<uuid:batch_id>/bevestiging/", views.confirmation, name="confirmation"),
    path("aanleveren/<uuid:batch_id>/ontvangstbewijs/", views.receipt, name="receipt"),
    path("aanleveren/<uuid:batch_id>/ontvangstbewijs.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("aanleveringen/", views.history, name="history"),
    path("aanleveringen/<str:reference>/", views.detail, name="detail"),
]
