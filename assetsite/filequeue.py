"""The single-machine broker: kombu's filesystem transport, made fast and safe for a backlog.

kombu's own transport (``filesystem://``) keeps every queue's messages in one folder, writes a message
in place (a reader can take a half-written file), moves taken messages to the temp directory (a copy
when that is another file system) and sleeps its polling interval (1 s) after every task before it
looks again: one image per second whatever the detector's speed. Here:

- each queue has its own folder (``<data_folder>/<queue>/``): a worker polling ``celery`` does not list
  a thousand ``detection`` files;
- a message is written under ``<data_folder>/.incoming/`` and renamed into its queue's folder, so it
  appears whole or not at all;
- a consumer takes a message by renaming it into ``<data_folder>/.claimed/`` (same file system, atomic):
  of two workers exactly one gets it;
- while a task is in flight (prefetch 1, late ack) the loop checks every ``busy_polling_interval``
  (5 ms; the task queues are not listed meanwhile, only the small control queue), so the next
  message is taken as soon as the last one is done; with nothing in flight it lists the queue
  folders every ``polling_interval``.

Messages written by kombu's transport into ``legacy_folder`` (the earlier ``var/celery/queue``) are
moved into their queues' folders on start, so an upgrade loses nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

Empty = filesystem.Empty

# Queue names become folder names: Celery's own (detection, celery, x@host.celery.pidbox, celeryev.<uuid>)
# pass as they are; anything else is hashed, so no name can leave the data folder.
_SAFE_NAME = re.compile(r"\A[A-Za-z0-9@._-]{1,200}\Z")


def queue_folder_name(queue: str) -> str:
    if _SAFE_NAME.match(queue) and queue.strip("."):
        return queue
    return "q-" + hashlib.sha256(queue.encode()).hexdigest()[:32]


class Channel(filesystem.Channel):
    @property
    def data_folder(self) -> Path:
        options = self.transport_options
        return Path(options.get("data_folder") or options.get("data_folder_in") or "data")

    def queue_path(self, queue: str) -> Path:
        return self.data_folder / queue_folder_name(queue)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        folder = self.queue_path(queue)
        incoming = self.data_folder / ".incoming"
        # Sortable by time across processes: FIFO within a queue.
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.msg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            incoming.mkdir(parents=True, exist_ok=True)
            partial = incoming / name
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode())
            os.replace(partial, folder / name)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add a message to {folder}") from exc

    def _get(self, queue: str) -> Any:
        folder = self.queue_path(queue)
        try:
            names = sorted(name for name in os.listdir(folder) if name.endswith(".msg"))
        except FileNotFoundError:
            raise Empty() from None
        if not names:
            raise Empty()
        claimed_dir = self.data_folder / ".claimed"
        claimed_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            claimed = claimed_dir / f"{os.getpid()}-{name}"
            try:
                os.rename(folder / name, claimed)
            except FileNotFoundError:
                continue  # another consumer took it first
            try:
                payload = claimed.read_bytes()
            finally:
                claimed.unlink(missing_ok=True)
            return loads(payload.decode())
        raise Empty()

    def _purge(self, queue: str) -> int:
        count = 0
        folder = self.queue_path(queue)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return 0
        for name in names:
            if name.endswith(".msg"):
                try:
                    os.remove(folder / name)
                    count += 1
                except FileNotFoundError:
                    pass
        return count

    def _size(self, queue: str) -> int:
        try:
            return sum(1 for name in os.listdir(self.queue_path(queue)) if name.endswith(".msg"))
        except FileNotFoundError:
            return 0


class Transport(filesystem.Transport):
    Channel = Channel
    # Idle: how often the queue folders are listed. Busy: how often a loop with a task in flight checks
    # whether its ack came (task queues are not listed), so the next message follows at once.
    polling_interval = 0.05
    busy_polling_interval = 0.005

    # kombu keeps one broker state (declared exchanges and bindings) for every filesystem connection of a
    # process; bindings live in the control folder, so here there is one state per control folder.
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.state = self._states.setdefault(str(options.get("control_folder", "control")), virtual.BrokerState())
        if options.get("busy_polling_interval") is not None:
            self.busy_polling_interval = float(options["busy_polling_interval"])
        legacy = options.get("legacy_folder")
        data = options.get("data_folder")
        if legacy and data:
            adopt_legacy_messages(Path(legacy), Path(data))

    def _task_in_flight(self) -> bool:
        return any(channel._consumers and not channel.qos.can_consume() for channel in self.channels)

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        started = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                elapsed = time.monotonic() - started
                if timeout is not None and elapsed >= timeout:
                    raise TimeoutError() from None  # socket.timeout, as kombu expects
                pause = self.busy_polling_interval if self._task_in_flight() else self.polling_interval
                if timeout is not None:
                    pause = min(pause, max(timeout - elapsed, 0.0))
                time.sleep(pause)


def adopt_legacy_messages(legacy: Path, data: Path) -> int:
    """Move kombu-transport files (``<ms>_<uuid>.<queue>.msg``) into the per-queue folders."""
    try:
        names = sorted(os.listdir(legacy))
    except FileNotFoundError:
        return 0
    moved = 0
    for name in names:
        stem, _, rest = name.partition(".")
        if not rest.endswith(".msg") or not stem:
            continue
        queue = rest[: -len(".msg")]
        folder = data / queue_folder_name(queue)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(legacy / name, folder / f"{0:020d}_{stem}.msg")
            moved += 1
        except FileNotFoundError:
            continue
    return moved
