"""The client's IP address, for rate limits and login lockouts, with only as many proxies trusted as configured.

``X-Forwarded-For`` is written by whoever sends the request: a client can put any address in it. Only
the entries appended by our own proxies can be believed, and each proxy appends exactly one (the
address it got the request from). With ``NUM_PROXIES`` proxies in front of the site, the client is
therefore the ``NUM_PROXIES``-th entry from the right; everything left of it is the client's own
claim and is ignored. With ``NUM_PROXIES=0`` (gunicorn facing the clients) the header is ignored and
the socket's address counts.

This is the same rule as Django REST framework's ``NUM_PROXIES`` (settings pass the same number to
it), so the API's throttles and the login lockout agree on who a client is.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]
