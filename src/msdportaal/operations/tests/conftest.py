from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from msdportaal.operations import logs


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict]]]:
    """What the root logger writes, rendered as in production (MSD_LOG_FORMAT=json);
    call it to get the lines so far, each parsed (a line that isn't JSON fails the test)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield lines
    root.removeHandler(handler)
    root.setLevel(previous_level)
