"""Sessions end after a period of inactivity without a database write on every request.

``SESSION_SAVE_EVERY_REQUEST`` wrote the session row (a savepoint, an UPDATE, a release)
on every page. Refreshing it at most once per ``MSD_SESSION_REFRESH_SECONDS`` keeps the
idle deadline moving with one write a minute instead. The session lives
``SESSION_COOKIE_AGE`` = idle timeout + refresh interval after its last refresh, so a
user is never logged out sooner than the idle timeout after their last request, and at
most one refresh interval later.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

#: Session key holding the moment (Unix seconds) the session row was last written.
REFRESHED_KEY = "_msd_refreshed"


class SessionRefreshMiddleware:
    """Marks a logged-in session modified when its last write is older than the interval."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # An anonymous visitor without a session gets none from us.
        if session is None or session.session_key is None or session.is_empty():
            return response
        now = int(time.time())
        if now - int(session.get(REFRESHED_KEY, 0)) >= settings.MSD_SESSION_REFRESH_SECONDS:
            session[REFRESHED_KEY] = now  # SessionMiddleware saves it on the way out
        return response
