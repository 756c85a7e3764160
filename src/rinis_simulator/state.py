"""Thread-safe control state: injected failures, the Grote Berichten break, counters.

The SOAP handler threads, the GB download threads and the control API all touch this,
so every access goes through one lock and callers only ever get copies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

FAIL_MODES = ("down", "http500", "slow", "fo03-server", "fo03-client")


@dataclass(frozen=True)
class Failure:
    """How the next Di01(s) must misbehave.

    - ``down``: read the request, then close the connection without any answer;
    - ``http500``: answer HTTP 500 with a plain-text body (no SOAP);
    - ``slow``: process normally (the message *is* stored) but wait ``delay_seconds``
      before answering, so a client time-out leaves a stored message behind;
    - ``fo03-server`` / ``fo03-client``: refuse with a Fo03 (default StUF046 server /
      StUF010 client, or ``code``) without storing anything.
    """

    mode: str
    delay_seconds: float = 0.0
    code: str | None = None
    details: str | None = None


@dataclass
class _QueuedFailure:
    failure: Failure
    remaining: int


class ControlState:
    """Shared mutable state of one simulator instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_QueuedFailure] = deque()
        self._gb_break_after: int | None = None
        self._counters: Counter[str] = Counter()

    def push_failure(self, failure: Failure, count: int) -> None:
        """Make the next *count* Di01s misbehave as *failure* (after earlier entries)."""
        if failure.mode not in FAIL_MODES:
            raise ValueError(f"onbekende mode {failure.mode!r}; kies uit {', '.join(FAIL_MODES)}")
        if count < 1:
            raise ValueError("count moet minstens 1 zijn")
        with self._lock:
            self._queue.append(_QueuedFailure(failure, count))

    def take_failure(self) -> Failure | None:
        """Consume one unit of the first queued failure, if any."""
        with self._lock:
            if not self._queue:
                return None
            head = self._queue[0]
            head.remaining -= 1
            if head.remaining <= 0:
                self._queue.popleft()
            self._counters[f"injected_{head.failure.mode}"] += 1
            return head.failure

    def set_gb_break(self, after_bytes: int | None) -> None:
        """Break the first attempt of the next GB download after *after_bytes* bytes."""
        if after_bytes is not None and after_bytes < 0:
            raise ValueError("after_bytes mag niet negatief zijn")
        with self._lock:
            self._gb_break_after = after_bytes

    def take_gb_break(self) -> int | None:
        """Consume the one-shot GB break setting."""
        with self._lock:
            value, self._gb_break_after = self._gb_break_after, None
            return value

    def count(self, name: str, amount: int = 1) -> None:
        """Increase a named counter."""
        with self._lock:
            self._counters[name] += amount

    def reset(self) -> None:
        """Forget queued failures, the GB break and all counters."""
        with self._lock:
            self._queue.clear()
            self._gb_break_after = None
            self._counters.clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy for ``GET /control/status``."""
        with self._lock:
            return {
                "counters": dict(self._counters),
                "fail_queue": [
                    {
                        **{k: v for k, v in asdict(q.failure).items() if v is not None},
                        "remaining": q.remaining,
                    }
                    for q in self._queue
                ],
                "gb_break_after_bytes": self._gb_break_after,
            }
