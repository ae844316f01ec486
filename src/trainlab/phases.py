"""Lines for the phases of long work that are not training steps (reading data, training a tokenizer, the
final test evaluation, the dashboard's first read), so that no wait is silent.

Code says them through the standard `trainlab` logger at INFO, as a library should: the command line shows
them on stderr beside the progress bars (`--quiet` drops them); a program calling trainlab.api sees them
only when it configures logging, and nothing here touches the store."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("trainlab")

SAID_AFTER_S = 1.0  # a phase is said once it has taken this long: quick ones (tiny data, a cache hit) say nothing


@contextmanager
def phase(what: str, at_once: bool = False) -> Iterator[None]:
    """`what ...` once the work has gone on for SAID_AFTER_S, and `what: 12.3 s` when it ends after that; a
    phase over sooner says nothing (a timer thread says the first line, so a long phase is named while it runs).
    `at_once`: the first line before the work, whatever its length (what it is about to do is news)."""
    started = time.perf_counter()
    if at_once or SAID_AFTER_S <= 0:
        log.info("%s ...", what)
        timer = None
    else:
        timer = threading.Timer(SAID_AFTER_S, log.info, ("%s ...", what))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
    seconds = time.perf_counter() - started
    if seconds >= SAID_AFTER_S:
        log.info("%s: %.1f s", what, seconds)
