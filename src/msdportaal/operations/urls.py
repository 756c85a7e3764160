from django.urls import path

from . import views

app_name = "operations"

urlpatterns = [
    path("gezond/", views.liveness, name="liveness"),
    path("gereed/", views.readiness, name="readiness"),
    path("metrics", views.prometheus_metrics, name="metrics"),
]
