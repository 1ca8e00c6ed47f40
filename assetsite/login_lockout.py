"""Login lockout on top of django-axes: one limit per username, another per client address.

django-axes records failed logins (``AccessAttempt`` rows: username, address, failures, time of the
latest) and refuses a login, before any password is hashed, while ``get_failures`` reaches its one
``AXES_FAILURE_LIMIT``. A username and an address deserve different limits (many people share an
office's address), so ``LockoutHandler`` counts both and reports the username limit as reached when
either is. Failures count while they follow each other within ``LOGIN_LOCKOUT_MINUTES``; a lockout
ends that long after the failure that reached the limit (attempts during it are not counted).

Staff unlock in the admin (*Axes › Access attempts*: delete the rows) or with
``manage.py axes_reset_username <name>`` / ``axes_reset_ip <address>`` / ``axes_reset``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


@dataclass(frozen=True)
class Lock:
    kind: str  # "username" or "address"
    until: datetime


def _cool_off() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def _recent(now: datetime, **where: str) -> list[tuple[datetime, int]]:
    """(time of the latest failure, failures) of the rows that still count, newest first."""
    rows = AccessAttempt.objects.filter(attempt_time__gte=now - _cool_off(), **where).order_by("-attempt_time")
    return list(rows.values_list("attempt_time", "failures_since_start"))


def _lock_end(rows: list[tuple[datetime, int]], limit: int) -> datetime | None:
    """When the count drops below ``limit`` as rows age out, oldest first; None if it is below already."""
    total = 0
    for attempt_time, failures in rows:  # newest first: the row that completes the limit ages out first
        total += failures
        if total >= limit:
            return attempt_time + _cool_off()
    return None


def locks(*, username: str | None, ip_address: str | None, now: datetime | None = None) -> list[Lock]:
    """The lockouts that apply to a login by ``username`` from ``ip_address`` right now."""
    now = now or timezone.now()
    found = []
    if username:
        end = _lock_end(_recent(now, username=username), settings.LOGIN_FAILURE_LIMIT)
        if end is not None:
            found.append(Lock("username", end))
    if ip_address:
        end = _lock_end(_recent(now, ip_address=ip_address), settings.LOGIN_FAILURE_LIMIT_PER_IP)
        if end is not None:
            found.append(Lock("address", end))
    return found


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with a limit of its own for addresses (``LOGIN_FAILURE_LIMIT_PER_IP``)."""

    def get_failures(self, request: Any, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        found = locks(username=username, ip_address=getattr(request, "axes_ip_address", None),
                      now=getattr(request, "axes_attempt_time", None))
        if found:
            return settings.AXES_FAILURE_LIMIT
        if not username:
            return 0
        rows = _recent(getattr(request, "axes_attempt_time", None) or timezone.now(), username=username)
        return sum(failures for _, failures in rows)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The page a locked-out login gets: 429, why, and when to try again (also as Retry-After)."""
    now = timezone.now()
    username = get_client_username(request, credentials) or ""
    found = locks(username=username, ip_address=getattr(request, "axes_ip_address", None), now=now)
    until = max((lock.until for lock in found), default=now + _cool_off())
    seconds = max(1, math.ceil((until - now).total_seconds()))
    context = {
        "username": username,
        "by_username": any(lock.kind == "username" for lock in found),
        "by_address": any(lock.kind == "address" for lock in found),
        "until": until,
        "minutes": math.ceil(seconds / 60),
        "user_limit": settings.LOGIN_FAILURE_LIMIT,
        "ip_limit": settings.LOGIN_FAILURE_LIMIT_PER_IP,
        "window": settings.LOGIN_LOCKOUT_MINUTES,
    }
    response = render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(seconds)
    return response
