from django.urls import path

from . import views

app_name = "agenda"

urlpatterns = [
    path("agenda/<str:token>.ics", views.feed, name="feed"),
    path("agenda/deadline/<str:code>.ics", views.deadline_event, name="deadline"),
    path("mijn-gegevens/agenda/", views.renew, name="renew"),
]
