"""How much decoding may happen at once: a pixel budget per process and slots for large decodes per machine.

A decoded frame costs up to 4 bytes per pixel whatever its file size (a 400 KB PNG of 100 MP decodes to
400 MB), so memory is bounded by pixels in flight, not by bytes uploaded:

- **per process**: the decoded frames being worked on at once may hold at most ``pixel_budget`` pixels
  (a frame larger than the budget still decodes, alone), so threads or a second code path in the same
  process wait instead of adding up;
- **per machine**: a decode of at least ``heavy_pixels`` pixels takes one of ``heavy_slots`` slots. Slots
  are ``flock`` locks on files in ``lock_dir``, shared by every process that uses the same directory (web
  processes and containers on one host share ``VAR_DIR``); the kernel frees a slot when its process dies,
  so a crash never leaks one.

Whoever cannot start within ``wait_seconds`` gets ``DecodeBusy`` (a TimeoutError: callers answer "busy, try
again" instead of using more memory). No Django here: callers build DecodeLimits from their settings.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class DecodeLimits:
    pixel_budget: int  # per process
    heavy_pixels: int  # a decode this large or larger needs a machine-wide slot
    heavy_slots: int  # 0: no machine-wide cap
    lock_dir: Path | None
    wait_seconds: float
    retry_after: int = 5  # what to tell a client that was turned away


class DecodeBusy(TimeoutError):
    """Too much decoding in progress to start this one within the wait."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _PixelBudget:
    """Pixels of decoded frames in flight in this process."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.in_flight = 0

    def acquire(self, pixels: int, *, budget: int, deadline: float) -> bool:
        with self._changed:
            # A frame over the whole budget may still run when nothing else is in flight.
            while self.in_flight and self.in_flight + pixels > budget:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            self.in_flight += pixels
            return True

    def release(self, pixels: int) -> None:
        with self._changed:
            self.in_flight -= pixels
            self._changed.notify_all()


PROCESS_BUDGET = _PixelBudget()


def slot_path(lock_dir: Path, index: int) -> Path:
    return lock_dir / f"decode-slot-{index}.lock"


def _try_slots(lock_dir: Path, slots: int) -> IO[bytes] | None:
    for index in range(slots):
        handle = open(slot_path(lock_dir, index), "ab")  # noqa: SIM115 - held until the decode ends
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return handle
    return None


def _acquire_slot(limits: DecodeLimits, deadline: float) -> IO[bytes] | None:
    assert limits.lock_dir is not None
    limits.lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        handle = _try_slots(limits.lock_dir, limits.heavy_slots)
        if handle is not None or time.monotonic() >= deadline:
            return handle
        time.sleep(0.05)


@contextmanager
def decode_reservation(pixels: int, limits: DecodeLimits | None) -> Iterator[None]:
    """Hold budget (and, for a large frame, a machine-wide slot) while a frame of ``pixels`` is decoded.

    Raises DecodeBusy when either cannot be had within ``limits.wait_seconds``. ``None``: no limits.
    """
    if limits is None:
        yield
        return
    deadline = time.monotonic() + limits.wait_seconds
    if not PROCESS_BUDGET.acquire(pixels, budget=limits.pixel_budget, deadline=deadline):
        raise DecodeBusy(
            "This server process is already decoding as many pixels as it may at once.", retry_after=limits.retry_after
        )
    slot: IO[bytes] | None = None
    try:
        if limits.heavy_slots and limits.lock_dir is not None and pixels >= limits.heavy_pixels:
            slot = _acquire_slot(limits, deadline)
            if slot is None:
                raise DecodeBusy(
                    f"The server is already decoding {limits.heavy_slots} large image(s), the most it does at once.",
                    retry_after=limits.retry_after,
                )
        yield
    finally:
        if slot is not None:
            slot.close()  # closing the file releases the flock
        PROCESS_BUDGET.release(pixels)
