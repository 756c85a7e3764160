"""A session engine whose saves fail, for ``settings.SESSION_ENGINE`` in a test.

It loads sessions from the database as Django's own database engine does; every save fails
the way that engine's save fails when its UPDATE meets a database that went away (it turns
the ``DatabaseError`` into ``UpdateError``, and Django's middleware answers "Bad Request
(400)"). That is what happened during a PostgreSQL restart right after a confirm committed.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    saves_refused = 0

    def save(self, must_create: bool = False) -> None:
        type(self).saves_refused += 1
        raise UpdateError
