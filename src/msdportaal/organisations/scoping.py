"""The one place that scopes municipal data to the gemeente a user acts for.

Every query for deliveries, reports, consent forms or notifications goes through
:func:`for_acting_municipality` (lists) or :func:`get_for_acting_municipality_or_404`
(one object). Another gemeente's object is a 404, never a 403: we do not even confirm
it exists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest


def for_acting_municipality[M: Model](
    queryset: QuerySet[M], request: HttpRequest, *, field: str = "municipality"
) -> QuerySet[M]:
    municipality = getattr(request, "acting_municipality", None)
    if municipality is None:
        return queryset.none()
    return queryset.filter(**{field: municipality})


def get_for_acting_municipality_or_404[M: Model](
    queryset: QuerySet[M], request: HttpRequest, *, field: str = "municipality", **lookup: Any
) -> M:
    try:
        return for_acting_municipality(queryset, request, field=field).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc
