"""Webhook plumbing free of models: signing, verifying, the SSRF guard and one pinned HTTP POST.

Signature header: ``X-Assetsite-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``.
The timestamp is signed with the body, so a captured request cannot be replayed later than the
receiver's tolerance; ``verify_signature`` is the recipe docs/api.md gives receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Assetsite-Signature"
EVENT_HEADER = "X-Assetsite-Event"
DELIVERY_HEADER = "X-Assetsite-Delivery"
USER_AGENT = "assetsite-webhooks/1"
DEFAULT_TOLERANCE = 300
MAX_URL_LENGTH = 2000


def secret_generate() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={sign(secret=secret, timestamp=stamp, body=body)}"


def verify_signature(
    *, secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is recent enough."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        stamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    expected = sign(secret=secret, timestamp=stamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


# --- where a hook may point ---------------------------------------------------------------------


class UnsafeTarget(ValueError):
    """A webhook URL that may not be called: bad scheme, no host, or an address inside the network."""


class UnresolvableHost(UnsafeTarget):
    """The host name does not resolve (now): possibly a passing DNS failure."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def url_check(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an http(s) URL; raises UnsafeTarget for anything else."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UnsafeTarget(f"The URL is not valid: {error}.") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UnsafeTarget("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Leave credentials out of the URL; check the signature header instead.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeTarget("The host name is not valid.") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def target_resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and the addresses its host resolves to now.

    Every address must be public unless ``allow_private``: a name that resolves to one public and
    one private address is refused, since the connection could go to either.
    """
    scheme, host, port, path = url_check(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise UnresolvableHost(f"The host {host} cannot be resolved ({error}).") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnresolvableHost(f"The host {host} has no address.")
    if not allow_private:
        blocked = [address for address in addresses if _blocked(address)]
        if blocked:
            raise UnsafeTarget(
                f"{host} resolves to {blocked[0]}, a private, loopback or reserved address; webhooks only go to "
                "public addresses (WEBHOOK_ALLOW_PRIVATE_TARGETS lifts this)."
            )
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


# --- the request --------------------------------------------------------------------------------


def _connect_checked(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """Like socket.create_connection over a name's addresses, but only over the ones that were checked:
    an unreachable IPv6 address, or one machine of several that is down, does not fail the delivery."""
    error: OSError = OSError(f"no address to connect to on port {port}")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as failed:
            error = failed
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the addresses that were checked, not to whatever the name resolves to a moment later."""

    def __init__(self, addresses: tuple[str, ...], host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect_checked(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, addresses: tuple[str, ...], host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect_checked(self._addresses, self.port, self.timeout)
        # The certificate is checked against the host name, as for any https request.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def post(
    *, target: Target, body: bytes, headers: dict[str, str], timeout: float, max_excerpt: int
) -> PostResult:
    """POST ``body`` to the first checked address that accepts a connection. Redirects are not followed
    (a 3xx is a failure)."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    # At most three addresses, so a host that is down costs at most three connect timeouts.
    connection = connection_class(target.addresses[:3], target.host, target.port, timeout)
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        excerpt = response.read(max_excerpt).decode("utf-8", errors="replace")
        return PostResult(
            status_code=response.status, excerpt=excerpt, error="", duration_ms=_since(started)
        )
    except (OSError, http.client.HTTPException) as error:
        message = str(error) or type(error).__name__
        return PostResult(status_code=None, excerpt="", error=message[:1000], duration_ms=_since(started))
    finally:
        connection.close()


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
