from django.urls import path

from . import views

app_name = "organisations"

urlpatterns = [
    path("inloggen/", views.login_page, name="login"),
    path("ontwikkel-login/", views.dev_login, name="dev_login"),
    path("uitloggen/", views.logout_view, name="logout"),
    path("uitgelogd/", views.logged_out, name="logged_out"),
    path("gemeente-kiezen/", views.choose, name="choose"),
    path("mijn-gegevens/", views.profile, name="profile"),
]
