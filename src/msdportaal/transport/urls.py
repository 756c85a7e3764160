from django.urls import path

from . import views

app_name = "transport"

urlpatterns = [
    path("rinis/gb/<str:token>/", views.gb_download, name="gb_download"),
]
