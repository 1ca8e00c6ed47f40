"""Kept database connections between a worker's units of work (tasks, background writes)."""

from __future__ import annotations

import time

from django.db import connections

# A connection used this recently is not health-checked again: back-to-back tasks would pay one
# more round trip each ("SELECT 1", ~0.5 ms). A connection that broke meanwhile raises on its
# next query, which the task retries, and is replaced at the next recycle.
HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0


class ConnectionRecycler:
    """What Django does between requests: close a connection that broke or outlived its age.

    Connections are per thread: each thread that works with the database keeps its own recycler.
    """

    def __init__(self) -> None:
        self.last_recycled = float("-inf")

    def recycle(self) -> None:
        now = time.monotonic()
        back_to_back = now - self.last_recycled < HEALTH_CHECK_AFTER_IDLE_SECONDS
        self.last_recycled = now
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()  # also asks for a health check on the next query
            if back_to_back and connection.connection is not None:
                connection.health_check_done = True
