"""Grade and save records on a background thread, so the engine never waits for either."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from ovr_eval.records import Record
from ovr_eval.run_files import RecordWriter

_STOP = object()


class RecordSink:
    """Turns items into records with ``make`` and appends them with ``writer``, off the caller's
    thread. The verifier's symbolic checks run in their own worker processes, so grading
    overlaps generation. ``close`` waits for everything queued and re-raises any error."""

    def __init__(self, writer: RecordWriter, make: Callable[..., Record]):
        self.writer, self.make = writer, make
        self.items: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.written = 0
        self.thread = threading.Thread(target=self._run, name="ovr-record-sink", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.items.get()) is not _STOP:
            if self.error is not None:
                continue  # drain after a failure; close() reports it
            try:
                self.writer.write(self.make(*item))
                self.written += 1
            except BaseException as exc:
                self.error = exc

    def put(self, *args: Any) -> None:
        """Queue one item; raises at once if an earlier item failed."""
        if self.error is not None:
            raise self.error
        self.items.put(args)

    def close(self) -> None:
        """Wait for every queued record to be written, close the file, re-raise any error."""
        self.items.put(_STOP)
        self.thread.join()
        self.writer.close()
        if self.error is not None:
            raise self.error
