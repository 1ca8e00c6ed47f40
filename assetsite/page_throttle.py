"""Throttles for page actions (HTML forms) that share their API twin's rates and request history.

Re-tag, bulk actions and webhook pings cost the workers; the API has rate limits for them, so the
pages use the very same DRF throttles (same settings, same cache keys): alternating between the page
and the API does not double anyone's allowance. Over the limit a page action gets a 429 page saying
what was refused and when to try again (also as ``Retry-After``), and nothing is done.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import SimpleNamespace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle


def page_throttled(request: HttpRequest, *, scopes: Sequence[str], action: str, back: str) -> HttpResponse | None:
    """None when the signed-in user may do ``action`` now (and the request is counted), else the 429 page.

    ``scopes``: "user" for UserRateThrottle (API_THROTTLE_USER), else a DEFAULT_THROTTLE_RATES scope
    name as the API twin's ``throttle_scope``."""
    waits: list[float] = []
    for scope in scopes:
        throttle = UserRateThrottle() if scope == "user" else ScopedRateThrottle()
        # DRF's throttles read request.user and request.META only, which a Django request has too.
        if not throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):  # type: ignore[arg-type]
            waits.append(throttle.wait() or 1)
    if not waits:
        return None
    seconds = max(1, math.ceil(max(waits)))
    context = {"action": action, "seconds": seconds, "back": back}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
