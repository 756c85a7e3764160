"""Sessions: refreshed at most once a minute, and never the undoing of a committed confirm.

**Refresh.** ``SESSION_SAVE_EVERY_REQUEST`` wrote the session row (a savepoint, an UPDATE, a
release) on every page. Refreshing it at most once per ``MSD_SESSION_REFRESH_SECONDS`` keeps
the idle deadline moving with one write a minute instead. The session lives
``SESSION_COOKIE_AGE`` = idle timeout + refresh interval after its last refresh, so a
user is never logged out sooner than the idle timeout after their last request, and at
most one refresh interval later.

**After a commit, the answer stands.** When saving the session fails — the database
restarting just after a confirm committed — Django's ``SessionMiddleware`` turns the
response into "Bad Request (400)", and the gemeente never sees the reference of a
delivery it did make. A view whose work has committed calls :func:`mark_committed`; from
then on a failure to save the session is logged and the view's own response goes out,
without a new session cookie (the browser keeps the one it has, whose session is still
there, unchanged). What is lost is only what the session would have remembered: the idle
deadline is not moved on, a message for the next page may be missing. The pages such a
view answers with must therefore work from the database alone (the confirmation page is
found by the batch's id in its URL, scoped to the acting gemeente). Every other request
keeps Django's behaviour: a login, or choosing a gemeente, must not pretend to have worked
when its session did not save.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase

logger = structlog.stdlib.get_logger("msdportaal.sessions")

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


_COMMITTED = "msd_committed"


def mark_committed(request: HttpRequest) -> None:
    """The work of this request has committed: its response must reach the user, whatever
    fails after this (saving the session)."""
    setattr(request, _COMMITTED, True)


def is_committed(request: HttpRequest) -> bool:
    return bool(getattr(request, _COMMITTED, False))


class SessionMiddleware(DjangoSessionMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not is_committed(request):
            return super().process_response(request, response)
        try:
            return super().process_response(request, response)
        except Exception as exc:  # SessionInterrupted (400), a DatabaseError, a cache error
            logger.warning(
                "session_not_saved_after_commit",
                path=request.path,
                error=f"{type(exc).__name__}: {exc}",
            )
            return response
