from django.urls import path

from . import inbound, views

app_name = "transport"

urlpatterns = [
    path("rinis/gb/<str:token>/", views.gb_download, name="gb_download"),
    path("rinis/ggk/", inbound.receive, name="inbound"),
]
