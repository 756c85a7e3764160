"""``next`` after saving: only a local absolute path is followed (issue 18).

A bare word used to reach ``redirect()`` as a URL name (NoReverseMatch, HTTP 500); other
sites and ``javascript:`` must never be where a user lands after saving.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from msdportaal.conftest import MUNICIPAL_BACKEND, make_municipal_user
from msdportaal.organisations.models import Municipality

pytestmark = pytest.mark.django_db

HOSTILE = [
    "word",
    "overview:index",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "http://evil.example/",
    "javascript:alert(1)",
    " /spaced",
]


@pytest.mark.parametrize("next_value", HOSTILE)
def test_profile_ignores_a_next_that_is_not_a_local_path(client_a: Client, next_value: str) -> None:
    url = reverse("organisations:profile")
    page = client_a.get(url, {"next": next_value})
    assert page.status_code == 200
    assert f'value="{next_value}"' not in page.content.decode()
    response = client_a.post(
        f"{url}?next={next_value}",
        {
            "first_name": "Fatima",
            "last_name": "de Vries",
            "email": "fatima@example.org",
            "phone": "020 123 45 67",
            "next": next_value,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("overview:index")


@pytest.mark.parametrize("next_value", HOSTILE)
def test_choosing_a_gemeente_ignores_a_next_that_is_not_a_local_path(
    client: Client, municipality_a: Municipality, municipality_b: Municipality, next_value: str
) -> None:
    user = make_municipal_user(municipality_a, municipality_b)
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    url = reverse("organisations:choose")
    assert client.get(url, {"next": next_value}).status_code == 200
    response = client.post(url, {"municipality": municipality_b.pk, "next": next_value})
    assert response.status_code == 302
    assert response["Location"] == reverse("overview:index")


@pytest.mark.parametrize("next_value", HOSTILE)
def test_dev_login_ignores_a_next_that_is_not_a_local_path(
    client: Client, municipality_a: Municipality, next_value: str
) -> None:
    url = reverse("organisations:dev_login")
    assert client.get(url, {"next": next_value}).status_code == 200
    response = client.post(
        f"{url}?next={next_value}",
        {"municipality": municipality_a.pk, "name": "Fatima de Vries", "email": "f@example.org"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("overview:index")


def test_a_local_path_in_next_is_followed(
    client: Client, municipality_a: Municipality, municipality_b: Municipality
) -> None:
    user = make_municipal_user(municipality_a, municipality_b)
    client.force_login(user, backend=MUNICIPAL_BACKEND)
    target = reverse("overview:index") + "?x=1"
    response = client.post(
        reverse("organisations:choose"), {"municipality": municipality_b.pk, "next": target}
    )
    assert response["Location"] == target
