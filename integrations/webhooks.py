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


# IPv6 ranges that carry an IPv4 address inside them. Python's ipaddress calls several "global", but a
# packet to them reaches the embedded IPv4 host: 64:ff9b::169.254.169.254 is the cloud metadata service
# behind a NAT64 gateway, 2002:7f00:1:: is 127.0.0.1 through a 6to4 relay.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use translation: never public
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (RFC 4291)
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d (RFC 2765)
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated (RFC 3879) but still local where used


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]]:
    """The transition mechanism an IPv6 address belongs to and the IPv4 address(es) inside it."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", [ip.ipv4_mapped]
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return "NAT64", [last32]
    if ip in _IPV4_TRANSLATED:
        return "IPv4-translated", [last32]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, which are refused on their own
        return "IPv4-compatible", [last32]
    if ip.sixtofour is not None:
        return "6to4", [ip.sixtofour]
    if ip.teredo is not None:
        server, client = ip.teredo
        return "Teredo", [client, server]
    return "", []


def _ipv4_blocked(ip: ipaddress.IPv4Address) -> bool:
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def blocked_reason(address: str) -> str:
    """Why a webhook may not connect to ``address`` ("" when it may): the reason names an embedded IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return "a private, loopback or reserved address" if _ipv4_blocked(ip) else ""
    mechanism, inner = _embedded_ipv4(ip)
    if mechanism in ("Teredo", "IPv4-compatible", "IPv4-translated"):
        # Tunnels and deprecated forms no public receiver uses: refused whatever they carry.
        return f"a private, loopback or reserved address ({mechanism} for {inner[0]})"
    if mechanism:
        if any(_ipv4_blocked(embedded) for embedded in inner):
            return f"a private, loopback or reserved address ({mechanism} for {inner[0]})"
        return ""  # a public IPv4 host behind NAT64 or 6to4: judged by the IPv4 address, which is public
    if ip in _NAT64_LOCAL or ip in _SITE_LOCAL:
        return "a private, loopback or reserved address (site-local)"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_site_local:
        return "a private, loopback or reserved address"
    return ""


def ports_text(ports: frozenset[int]) -> str:
    names = [str(port) for port in sorted(ports)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


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


def target_resolve(url: str, *, allow_private: bool, allowed_ports: frozenset[int] | None = None) -> Target:
    """Check ``url`` and the addresses its host resolves to now.

    Every address must be public unless ``allow_private``: a name that resolves to one public and
    one private address is refused, since the connection could go to either. IPv6 addresses that embed
    an IPv4 one (NAT64, 6to4, IPv4-mapped, ...) are judged by the IPv4 address inside. The port must be
    in ``allowed_ports`` (None: any), so a hook cannot speak HTTP at a mail, cache or database server.
    """
    scheme, host, port, path = url_check(url)
    if allowed_ports is not None and port not in allowed_ports:
        raise UnsafeTarget(
            f"Port {port} is not open to webhooks; use port {ports_text(allowed_ports)} "
            "(WEBHOOK_ALLOWED_PORTS sets the list)."
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise UnresolvableHost(f"The host {host} cannot be resolved ({error}).") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnresolvableHost(f"The host {host} has no address.")
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason:
                raise UnsafeTarget(
                    f"{host} resolves to {address}, {reason}; webhooks only go to public addresses "
                    "(WEBHOOK_ALLOW_PRIVATE_TARGETS lifts this)."
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
