from __future__ import annotations

import datetime

import pytest

from msdportaal.core.models import IssuedReference
from msdportaal.core.references import allocate_reference

pytestmark = pytest.mark.django_db
MOMENT = datetime.datetime(2027, 1, 15, 8, 35, 12, tzinfo=datetime.UTC)  # 09:35:12 in Amsterdam


def test_references_follow_the_moment_in_amsterdam_and_never_repeat():
    first = allocate_reference(MOMENT, "aanlevering")
    second = allocate_reference(MOMENT, "toestemming")  # another app, the same second
    assert (first, second) == ("20270115-093512-001", "20270115-093512-002")


def test_a_full_second_moves_on_to_the_next():
    IssuedReference.objects.create(reference="20270115-093512-999", issued_for="test")
    assert allocate_reference(MOMENT, "aanlevering") == "20270115-093513-001"


def test_summer_time():
    summer = datetime.datetime(2027, 7, 1, 22, 0, 0, tzinfo=datetime.UTC)  # 00:00 on 2 July
    assert allocate_reference(summer, "aanlevering") == "20270702-000000-001"
