"""Append-only record of CDS Hooks feedback (one JSON object per line, never rewritten).

Each feedback item becomes one line: when it was received, the service id, the verified client
(issuer and subject, or null without authentication) and the item as the client sent it. The
file is opened with ``O_APPEND`` for every write and each line is written with a single
``os.write`` under a lock, so lines from concurrent requests never interleave and earlier lines
are never touched. Feedback may hold free text (``userComment``): the file is patient-related
data and must be protected like the EHR's own logs; the service log never receives it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Any

import orjson


class FeedbackStore:
    """Appends feedback lines to ``path`` (created with mode 0600 if absent)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, records: list[dict[str, Any]]) -> int:
        """Append one line per record; returns the number written."""
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(records)


def feedback_records(
    service_id: str,
    items: list[dict[str, Any]],
    *,
    client: dict[str, str] | None,
    received_at: dt.datetime,
) -> list[dict[str, Any]]:
    """The lines to append for one feedback request (pure)."""
    return [
        {
            "receivedAt": received_at.isoformat(),
            "serviceId": service_id,
            "client": client,
            "feedback": item,
        }
        for item in items
    ]
