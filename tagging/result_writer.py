"""A worker writes an image's result in a background thread, during the next image's forward pass.

Each database statement is a round trip the detector would otherwise wait for (~4-8 ms per image
on PostgreSQL). The write starts when the next forward pass starts, or after
``START_AFTER_SECONDS`` when no image follows: started at once, it would share the CPU and the GIL
with Celery's hand-over and the next claim, which are on the critical path, while the forward pass
spends most of its time in torch with the GIL released. At most one write is behind: a task waits
for the previous write before handing over its own, so results are written in order and a slow
database slows the worker down instead of piling up results in memory.

The task's message is acknowledged before its result is written. If the process dies in between,
the asset stays "processing" and the sweeper sends it again after ``TAGGING_PROCESSING_TIMEOUT``
(as for a worker that dies during detection); the claim makes sure it is tagged once.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings

from assetsite.db_reuse import ConnectionRecycler

logger = logging.getLogger(__name__)

START_AFTER_SECONDS = 0.05

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: Future[None] | None = None
_start = threading.Event()
_recycler = ConnectionRecycler()  # used in the writer thread only


def enabled(request: Any) -> bool:
    """Whether a task with this Celery ``request`` writes behind: only one a worker runs does; eager
    and direct calls expect the result written when they return."""
    return settings.TAGGING_WRITE_BEHIND and not (request.is_eager or request.called_directly)


def submit(write: Callable[[], None], *, asset_ids: Sequence[uuid.UUID]) -> None:
    """Run ``write`` in the writer thread once the previous write is done; return without waiting for it."""
    global _executor, _pending
    with _lock:
        if _pending is not None:
            _start.set()
            _pending.result()  # its errors were handled in the thread
        if _executor is None:
            # Created lazily: a thread does not survive the pool's fork.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagging-writer")
        _start.clear()
        _pending = _executor.submit(_guarded, write, [str(pk) for pk in asset_ids])


def forward_pass_starting() -> None:
    """The worker is about to run the detector: a write waiting behind may start."""
    _start.set()


def flush() -> None:
    """Write what is behind now and wait for it (the pool process exits, or a test wants it done)."""
    with _lock:
        pending = _pending
        _start.set()
    if pending is not None:
        pending.result()


def _guarded(write: Callable[[], None], asset_ids: list[str]) -> None:
    _start.wait(START_AFTER_SECONDS)
    try:
        write()
    except Exception:
        # ``write`` handles what it expects; anything else leaves the claims to the sweeper.
        logger.exception("writing the result of %s failed; the sweeper sends them again", asset_ids)
    finally:
        _recycler.recycle()


atexit.register(flush)
