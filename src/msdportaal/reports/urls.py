from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("rapporten/", views.inbox, name="inbox"),
    path("rapporten/<int:pk>/download/", views.download, name="download"),
]
