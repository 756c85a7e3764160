"""Locust: the deadline day with many gemeente users at once (a second opinion next to
bench/deadline; ``bench/locust`` runs it against the production-like stack).

Each locust user is one municipal employee of one gemeente. It logs in, then uploads
``MSD_LOCUST_FILES`` files (default 3: MSD_WMO-BASIS, -KOSTEN and -FACULTATIEF of the
current period) of 1-``MSD_LOCUST_MAX_MB`` MB (default 20; log-uniform, fixed seed per
user) the way a browser does, and browses its overview, history and reports meanwhile:

    GET /aanleveren/ (form, CSRF token)  ->  POST /aanleveren/ (the file, multipart with a
    Content-Length, streamed; -> 302)  ->  GET the check page  ->  POST confirm=1 (-> 302)
    ->  GET the confirmation page  ->  a page view (overzicht, aanleveringen, rapporten)

with a think time (``MSD_LOCUST_WAIT``, default "1,5" seconds) between the steps of the
day. A user whose files are in goes on browsing until the run ends (``--run-time``).

Logging in (pick one):

- ``MSD_LOCUST_SESSIONS=/path/sessions.json``: ready-made sessions, a JSON object
  ``{"0363": "<sessionid>", ...}`` (a list of keys per gemeente is fine too; the first is
  used). bench/locust writes this file for its own stack. For a staging system, log in
  with eHerkenning once per test gemeente and copy the ``sessionid`` cookie from the
  browser, or create sessions as bench/_stack.py does (``SETUP_CODE``, in a
  ``manage.py shell`` on the staging host). ``MSD_LOCUST_SESSION_COOKIE`` if the cookie
  is not called ``sessionid``.
- otherwise the development login (``/ontwikkel-login/``), as under ``make run``: each
  user logs in for the next gemeente in the list and fills in its profile.

Run against ``make run`` (development login)::

    .venv/bin/locust -f bench/locustfile.py --headless -u 20 -r 5 -t 3m \\
        --host http://127.0.0.1:8000

Against a staging system (real sessions; over HTTPS the Referer header is sent, which
Django's CSRF check asks for)::

    MSD_LOCUST_SESSIONS=staging-sessions.json MSD_LOCUST_CONFIRM=0 .venv/bin/locust \\
        -f bench/locustfile.py --headless -u 200 -r 10 -t 10m --host https://portaal.example

``MSD_LOCUST_CONFIRM=0`` cancels each upload on its check page instead of confirming it
(nothing is forwarded to RINIS; the request count is the same).

``MSD_LOCUST_MODE=bare`` is the yardstick run of bench/locust: the same users and the
same requests against bench/raw_wsgi.py, which answers every request at once (the upload
POST is read and written to disk, nothing else). ``MSD_LOCUST_LOG=/path/requests.jsonl``
writes one line per request (``[start, name, milliseconds, ok]``), from which bench/locust
computes percentiles over all page views together.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import time
from collections.abc import Iterator
from typing import Any

from locust import HttpUser, between, events, task

MB = 1_000_000
CHUNK = 256 * 1024
SETS = ("MSD_WMO-BASIS", "MSD_WMO-KOSTEN", "MSD_WMO-FACULTATIEF")
PAGES = ("/overzicht/", "/aanleveringen/", "/rapporten/")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHECK_PAGE = re.compile(r"/aanleveren/[0-9a-f-]{36}/controleren/$")
CONFIRMATION_PAGE = re.compile(r"/aanleveren/[0-9a-f-]{36}/bevestiging/$")
PERIOD = re.compile(r"MSD_[A-Z-]+_\d{4}_(\d{4}HJ0[12])\.csv")
DEV_OPTION = re.compile(r'<option value="(\d+)"[^>]*>[^<]*\(GM(\d{4})\)')

#: Names under which requests are reported (the same in the bare run).
UPLOAD_POST = "POST /aanleveren/ (bestand)"
FORM = "GET /aanleveren/ (formulier)"
CHECK = "GET controleren"
CONFIRM = "POST bevestigen"
CONFIRMATION = "GET bevestiging"

BARE = os.environ.get("MSD_LOCUST_MODE", "") == "bare"
FILES = int(os.environ.get("MSD_LOCUST_FILES", "3"))
MAX_SIZE = int(float(os.environ.get("MSD_LOCUST_MAX_MB", "20")) * MB)
MIN_SIZE = min(MB, MAX_SIZE)
SEED = int(os.environ.get("MSD_LOCUST_SEED", "20261129"))
CONFIRM_UPLOADS = os.environ.get("MSD_LOCUST_CONFIRM", "1") != "0"
SESSION_COOKIE = os.environ.get("MSD_LOCUST_SESSION_COOKIE", "sessionid")
WAIT_LOW, WAIT_HIGH = (float(x) for x in os.environ.get("MSD_LOCUST_WAIT", "1,5").split(","))


def _load_sessions() -> list[tuple[str, str]]:
    path = os.environ.get("MSD_LOCUST_SESSIONS")
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(code, keys[0] if isinstance(keys, list) else keys) for code, keys in data.items()]


SESSIONS = _load_sessions()
_next_user = itertools.count()
_block: memoryview | None = None
_log_path = os.environ.get("MSD_LOCUST_LOG")
_log = open(_log_path, "a", buffering=1) if _log_path else None  # noqa: SIM115 (for the run)


def block() -> memoryview:
    """CSV-like rows of random hex, MAX_SIZE bytes, shared by every user (made once)."""
    global _block
    if _block is None:
        rng = random.Random(SEED)
        rows = MAX_SIZE // 72 + 1
        data = bytearray(rng.randbytes(rows * 32).hex(";", 4).encode() + b";")
        data[71::72] = b"\n" * rows
        _block = memoryview(bytes(data[:MAX_SIZE]))
    return _block


class MultipartBody:
    """A multipart/form-data body with a known length, streamed in 256 KiB pieces (requests
    sends a Content-Length for an iterable with ``__len__``, never chunked encoding)."""

    def __init__(self, fields: dict[str, str], file_name: str, content: list[Any]) -> None:
        self.boundary = "----msdlocust" + os.urandom(12).hex()
        b = self.boundary
        self.head = (
            b"".join(
                f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            )
            + (
                f'--{b}\r\nContent-Disposition: form-data; name="files"; filename="{file_name}"'
                "\r\nContent-Type: text/csv\r\n\r\n"
            ).encode()
        )
        self.tail = f"\r\n--{b}--\r\n".encode()
        self.content = content
        self.size = sum(len(part) for part in content)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[Any]:
        yield self.head
        for part in self.content:
            for offset in range(0, len(part), CHUNK):
                yield part[offset : offset + CHUNK]
        yield self.tail


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, exception: Any, **kw: Any) -> None:
    if _log is not None:
        start = kw.get("start_time") or time.time() - response_time / 1000
        _log.write(json.dumps([round(start, 3), name, round(response_time, 1), exception is None]))
        _log.write("\n")


class GemeenteUser(HttpUser):
    wait_time = between(WAIT_LOW, WAIT_HIGH)

    def on_start(self) -> None:
        self.number = next(_next_user)
        self.rng = random.Random(SEED + self.number)
        low, high = math.log(MIN_SIZE), math.log(MAX_SIZE)
        self.sizes = [round(math.exp(self.rng.uniform(low, high))) for _ in range(FILES)]
        self.uploaded = 0
        self.pages = itertools.cycle(PAGES)
        self.period = os.environ.get("MSD_LOCUST_PERIOD", "")
        if BARE:
            self.code = f"{self.number % 10000:04d}"
            self.period = self.period or "2026HJ01"
        elif SESSIONS:
            self.code, key = SESSIONS[self.number % len(SESSIONS)]
            host = re.sub(r"^https?://", "", self.host or "").split("/")[0].split(":")[0]
            self.client.cookies.set(SESSION_COOKIE, key, domain=host, path="/")
        else:
            self.dev_login()

    # --- helpers ---------------------------------------------------------------------------

    def _fail(self, response: Any, why: str) -> None:
        response.failure(f"{why}: HTTP {response.status_code}")

    def _referer(self, path: str) -> dict[str, str]:
        return {"Referer": (self.host or "").rstrip("/") + path}

    def _token(self, text: str) -> str:
        match = CSRF_FIELD.search(text)
        return match.group(1) if match else ""

    def dev_login(self) -> None:
        with self.client.get(
            "/ontwikkel-login/", name="GET /ontwikkel-login/", catch_response=True
        ) as r:
            options = DEV_OPTION.findall(r.text)
            if r.status_code != 200 or not options:
                self._fail(r, "development login not available (MSD_DEV_LOGIN_ENABLED?)")
                return
            token = self._token(r.text)
        pk, self.code = options[self.number % len(options)]
        form = {
            "csrfmiddlewaretoken": token,
            "municipality": pk,
            "name": f"Locust Gebruiker{self.number}",
            "email": f"locust-{self.number}@example.invalid",
        }
        with self.client.post(
            "/ontwikkel-login/",
            data=form,
            name="POST /ontwikkel-login/",
            headers=self._referer("/ontwikkel-login/"),
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                self._fail(r, "login")
                return
            if "/mijn-gegevens/" in r.url:  # first time: the profile comes first
                profile = {
                    "csrfmiddlewaretoken": self._token(r.text),
                    "first_name": "Locust",
                    "last_name": f"Gebruiker{self.number}",
                    "email": form["email"],
                    "phone": "0201234567",
                }
                done = self.client.post(
                    r.url, data=profile, name="POST /mijn-gegevens/", headers=self._referer(r.url)
                )
                if done.status_code != 200:
                    r.failure(f"profile: HTTP {done.status_code}")

    def browse(self) -> None:
        path = next(self.pages)
        with self.client.get(path, name=f"GET {path}", catch_response=True) as r:
            if r.status_code != 200:
                self._fail(r, path)

    def upload(self) -> None:
        index = self.uploaded
        self.uploaded += 1
        with self.client.get("/aanleveren/", name=FORM, catch_response=True) as r:
            if r.status_code != 200:
                self._fail(r, "upload form")
                return
            token = self._token(r.text)
            if not BARE and not self.period:
                found = PERIOD.search(r.text)
                self.period = found.group(1) if found else "2026HJ01"
        name = f"{SETS[index % len(SETS)]}_{self.code}_{self.period}.csv"
        header = f"# locust {self.number} {index} {os.urandom(8).hex()}\n".encode()
        size = max(len(header) + 1, self.sizes[index])
        body = MultipartBody(
            {"csrfmiddlewaretoken": token}, name, [header, block()[: size - len(header)]]
        )
        headers = {"Content-Type": body.content_type, **self._referer("/aanleveren/")}
        with self.client.post(
            "/aanleveren/",
            data=body,
            headers=headers,
            name=UPLOAD_POST,
            allow_redirects=False,
            catch_response=True,
        ) as r:
            location = r.headers.get("Location", "")
            if BARE:
                if r.status_code != 200:
                    self._fail(r, "bare upload")
                    return
                check = f"/aanleveren/{os.urandom(16).hex()}/controleren/"
            elif r.status_code != 302 or not CHECK_PAGE.search(location):
                self._fail(r, f"upload {name} -> {location!r}")
                return
            else:
                check = re.sub(r"^https?://[^/]+", "", location)
        with self.client.get(check, name=CHECK, catch_response=True) as r:
            if r.status_code != 200:
                self._fail(r, "check page")
                return
        action = {"confirm": "1"} if CONFIRM_UPLOADS else {"cancel": "1"}
        with self.client.post(
            check,
            data={"csrfmiddlewaretoken": token, **action},
            name=CONFIRM,
            headers=self._referer(check),
            allow_redirects=False,
            catch_response=True,
        ) as r:
            location = re.sub(r"^https?://[^/]+", "", r.headers.get("Location", ""))
            if BARE:
                location = check.replace("controleren", "bevestiging")
                if r.status_code != 200:
                    self._fail(r, "bare confirm")
                    return
            elif r.status_code != 302:
                self._fail(r, "confirm")
                return
            elif not CONFIRM_UPLOADS:
                return  # cancelled: back on the upload form
            elif not CONFIRMATION_PAGE.search(location):
                self._fail(r, f"confirm -> {location!r}")
                return
        with self.client.get(location, name=CONFIRMATION, catch_response=True) as r:
            if r.status_code != 200:
                self._fail(r, "confirmation page")

    @task
    def day(self) -> None:
        if self.uploaded < FILES:
            self.upload()
        self.browse()
