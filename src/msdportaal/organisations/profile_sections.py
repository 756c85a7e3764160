"""Sections other apps add to "Mijn gegevens", without organisations importing them.

An app above organisations registers a function in its ``AppConfig.ready()``; the
profile page calls each with the request and shows the HTML it returns (the agenda app's
subscription link, for one)::

    from msdportaal.organisations import profile_sections

    profile_sections.register(render_my_section)  # (request) -> HTML string
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

Section = Callable[[HttpRequest], str]

_sections: list[Section] = []


def register(section: Section) -> None:
    if section not in _sections:
        _sections.append(section)


def render(request: HttpRequest) -> list[SafeString]:
    """The registered sections' HTML (rendered from their own templates), in order."""
    return [mark_safe(section(request)) for section in _sections]  # noqa: S308
