from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("meldingen/", views.inbox, name="inbox"),
    path("meldingen/gelezen/", views.mark_read, name="mark_read"),
    path("meldingen/ontvangers/", views.contacts, name="contacts"),
    path("meldingen/ontvangers/<int:pk>/", views.edit_contact, name="edit_contact"),
]
