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


def _lock(lock_dir: Path, index: int) -> IO[bytes] | None:
    handle = open(slot_path(lock_dir, index), "ab")  # noqa: SIM115 - held until the decode ends
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _acquire_slots(limits: DecodeLimits, count: int, deadline: float) -> list[IO[bytes]] | None:
    """``count`` slots, or None at the deadline. One slot: any free one. Several: slot 0, then 1, ... in
    order, so two decodes that each need several cannot hold one each and wait for the other forever."""
    assert limits.lock_dir is not None
    limits.lock_dir.mkdir(parents=True, exist_ok=True)
    held: list[IO[bytes]] = []
    while True:
        if count == 1:
            handle = next(filter(None, (_lock(limits.lock_dir, index) for index in range(limits.heavy_slots))),
                          None)
            if handle is not None:
                return [handle]
        else:
            while len(held) < count:
                handle = _lock(limits.lock_dir, len(held))
                if handle is None:
                    break
                held.append(handle)
            if len(held) == count:
                return held
        if time.monotonic() >= deadline:
            for handle in held:
                handle.close()
            return None
        time.sleep(0.05)


@contextmanager
def decode_reservation(pixels: int, limits: DecodeLimits | None, *, weight: int = 1) -> Iterator[None]:
    """Hold budget (and, for a large frame, machine-wide slots) while a frame of ``pixels`` is decoded.

    ``weight``: how many times its decoded size the decoder needs at its peak, for decoders that keep
    extra full-size buffers (media/imaging.py's DECODE_WEIGHT). The budget counts pixels × weight; a heavy
    decode takes ``weight`` slots (at most all of them, so it may run alone on the machine).

    Raises DecodeBusy when either cannot be had within ``limits.wait_seconds``. ``None``: no limits.
    """
    if limits is None:
        yield
        return
    cost = pixels * weight
    deadline = time.monotonic() + limits.wait_seconds
    if not PROCESS_BUDGET.acquire(cost, budget=limits.pixel_budget, deadline=deadline):
        raise DecodeBusy(
            "This server process is already decoding as many pixels as it may at once.", retry_after=limits.retry_after
        )
    slots: list[IO[bytes]] = []
    try:
        if limits.heavy_slots and limits.lock_dir is not None and cost >= limits.heavy_pixels:
            taken = _acquire_slots(limits, min(weight, limits.heavy_slots), deadline)
            if taken is None:
                raise DecodeBusy(
                    f"The server is already decoding {limits.heavy_slots} large image(s), the most it does at once.",
                    retry_after=limits.retry_after,
                )
            slots = taken
        yield
    finally:
        for slot in slots:
            slot.close()  # closing the file releases the flock
        PROCESS_BUDGET.release(cost)
