"""The OpenAPI document is valid, and every operation in it answers as it says."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from msdportaal.consent.tests.factories import CURRENT, report
from msdportaal.deliveries.tests.factories import csv_bytes, csv_file
from msdportaal.deliveries.tests.test_upload import upload_and_confirm

from .conftest import SystemApiClient

pytestmark = pytest.mark.django_db


def _schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_openapi_document_is_valid_and_public():
    schema = _schema(Client())
    validate(schema)
    assert schema["openapi"] == "3.1.0"
    assert schema["components"]["securitySchemes"]["servicesCertificaat"]["type"] == "mutualTLS"


@pytest.mark.browser
def test_the_readable_page_lists_every_operation(browser_page):
    schema = _schema(Client())
    browser_page.goto("/api/v1/docs/")  # axe runs on every page visited
    text = browser_page.page.inner_text("main")
    for path, item in schema["paths"].items():
        for method in item:
            if method in ("get", "post", "patch", "delete"):
                assert f"{method.upper()} {path}" in text


def _check(schema: dict[str, Any], path: str, method: str, response: Any) -> None:
    operation = schema["paths"][path][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (method, path, response.status_code, response.content[:300])
    content = documented.get("content", {})
    if "application/json" in content and response.get("Content-Type") == "application/json":
        wrapper = {"components": schema["components"], **content["application/json"]["schema"]}
        OAS31Validator(wrapper).validate(json.loads(response.content))


def test_every_operation_answers_as_documented(
    system_a: SystemApiClient, client_a: Client, municipality_a
):
    schema = _schema(Client())
    (delivery,) = upload_and_confirm(client_a, csv_file(f"MSD_WMO-BASIS_0363_{CURRENT}.csv"))
    cbs = report(municipality_a, CURRENT)
    cbs.delivery = delivery
    cbs.save()
    tus = {"HTTP_TUS_RESUMABLE": "1.0.0"}
    data = csv_bytes(200)
    name = f"MSD_WMO-KOSTEN_0363_{CURRENT}.csv"

    def create() -> str:
        response = system_a.post(
            "/api/v1/gemeenten/0363/uploads/",
            HTTP_UPLOAD_LENGTH=str(len(data)),
            HTTP_UPLOAD_METADATA="filename " + base64.b64encode(name.encode()).decode(),
            **tus,
        )
        _check(schema, "/api/v1/gemeenten/{code}/uploads/", "post", response)
        return response["Location"]

    upload_url = create()
    upload_id = upload_url.rstrip("/").rsplit("/", 1)[1]
    values = {
        "{code}": "0363",
        "{reference}": delivery.reference,
        "{id}": str(cbs.pk),
        "{upload_id}": upload_id,
    }
    seen = set()

    def call(path: str, method: str, **extra: Any) -> Any:
        url = path
        for key, value in values.items():
            url = url.replace(key, value)
        response = getattr(system_a, method)(url, **extra)
        _check(schema, path, method, response)
        seen.add((path, method))
        return response

    upload = "/api/v1/gemeenten/{code}/uploads/{upload_id}/"
    patched = call(
        upload,
        "patch",
        data=data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        **tus,
    )
    assert patched.status_code == 204
    assert call(upload, "get", **tus).json()["status"] == "klaar-om-te-bevestigen"
    confirmed = call("/api/v1/gemeenten/{code}/uploads/{upload_id}/bevestigen/", "post")
    assert confirmed.json()["status"] == "bevestigd"
    values["{upload_id}"] = create().rstrip("/").rsplit("/", 1)[1]
    assert call(upload, "delete", **tus).status_code == 204
    seen.add(("/api/v1/gemeenten/{code}/uploads/", "post"))

    for path, item in schema["paths"].items():
        for method in item:
            if (path, method) in seen or method not in ("get", "post", "patch", "delete"):
                continue
            response = call(path, method)
            assert response.status_code == 200, (method, path, response.content[:300])
    every = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "delete")
    }
    assert seen == every
