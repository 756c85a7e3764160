from django.urls import path

from . import docs_views, tus, views, web

app_name = "api"

GEMEENTE = "api/v1/gemeenten/<str:code>"

urlpatterns = [
    # The upload page's resumable uploads (session and CSRF; msdportaal.api.web).
    path("aanleveren/hervatbaar/", web.WebUploadCreateView.as_view(), name="web_uploads"),
    path(
        "aanleveren/hervatbaar/<uuid:upload_id>/",
        web.WebUploadView.as_view(),
        name="web_upload",
    ),
    path("aanleveren/hervatbaar/klaar/", web.finish, name="web_finish"),
    path("api/v1/schema/", docs_views.SchemaView.as_view(), name="schema"),
    path("api/v1/docs/", docs_views.docs, name="docs"),
    path("api/v1/gemeenten/", views.GemeentenView.as_view(), name="gemeenten"),
    path(f"{GEMEENTE}/verwacht/", views.ExpectedView.as_view(), name="expected"),
    path(f"{GEMEENTE}/uploads/", tus.UploadCreateView.as_view(), name="uploads"),
    path(f"{GEMEENTE}/uploads/<uuid:upload_id>/", tus.UploadView.as_view(), name="upload"),
    path(
        f"{GEMEENTE}/uploads/<uuid:upload_id>/bevestigen/",
        tus.UploadConfirmView.as_view(),
        name="confirm",
    ),
    path(f"{GEMEENTE}/aanleveringen/", views.DeliveriesView.as_view(), name="deliveries"),
    path(
        f"{GEMEENTE}/aanleveringen/<str:reference>/",
        views.DeliveryView.as_view(),
        name="delivery",
    ),
    path(f"{GEMEENTE}/rapporten/", views.ReportsView.as_view(), name="reports"),
    path(
        f"{GEMEENTE}/rapporten/<int:pk>/download/",
        views.ReportDownloadView.as_view(),
        name="report_download",
    ),
    path(f"{GEMEENTE}/toestemming/", views.ConsentView.as_view(), name="consent"),
    path(f"{GEMEENTE}/meldingen/", views.NotificationsView.as_view(), name="notifications"),
]
