"""The SSRF guard: IPv6 forms that carry an IPv4 address, site-local IPv6, and the allowed ports."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from assetsite.env import env_ports
from integrations import services, webhooks
from integrations.models import Webhook

REFUSED = [
    # address, what the message must name
    ("64:ff9b::a9fe:a9fe", "NAT64 for 169.254.169.254"),  # cloud metadata through a NAT64 gateway
    ("64:ff9b::7f00:1", "NAT64 for 127.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 for 10.0.0.1"),
    ("64:ff9b:1::5db8:d70e", "site-local"),  # RFC 8215 local-use prefix, whatever it embeds
    ("::127.0.0.1", "IPv4-compatible for 127.0.0.1"),
    ("::93.184.215.14", "IPv4-compatible for 93.184.215.14"),  # deprecated form: refused even when public
    ("::ffff:127.0.0.1", "IPv4-mapped for 127.0.0.1"),
    ("::ffff:169.254.169.254", "IPv4-mapped for 169.254.169.254"),
    ("::ffff:0:7f00:1", "IPv4-translated for 127.0.0.1"),
    ("2002:7f00:1::", "6to4 for 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 for 169.254.169.254"),
    ("2002:c0a8:101::", "6to4 for 192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo for 192.0.2.45"),
    ("2001:0:5db8:d70e::", "Teredo"),
    ("fec0::1", "site-local"),
    ("feff::1", "site-local"),
    ("fe80::1", "private, loopback or reserved"),
    ("fd00::1", "private, loopback or reserved"),
    ("::1", "private, loopback or reserved"),
    ("::", "private, loopback or reserved"),
    ("ff02::1", "private, loopback or reserved"),
    ("100.64.0.1", "private, loopback or reserved"),
    ("0.0.0.0", "private, loopback or reserved"),
]

ALLOWED = [
    "93.184.215.14",
    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    "64:ff9b::5db8:d70e",  # 93.184.215.14 through NAT64: how IPv6-only networks with DNS64 reach IPv4 hosts
    "2002:5db8:d70e::1",  # 93.184.215.14 through 6to4
    "::ffff:93.184.215.14",
]


@pytest.mark.parametrize(("address", "named"), REFUSED)
def test_embedded_and_local_addresses_are_refused_with_the_ipv4_named(address, named):
    reason = webhooks.blocked_reason(address)
    assert reason and named in reason, reason
    with pytest.raises(webhooks.UnsafeTarget, match="private, loopback or reserved") as refused:
        webhooks.target_resolve(f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook",
                                allow_private=False)
    assert named in str(refused.value)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_and_public_ipv4_behind_nat64_or_6to4_are_allowed(address):
    assert webhooks.blocked_reason(address) == ""
    url = f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"
    assert webhooks.target_resolve(url, allow_private=False).addresses == (address,)


def test_a_name_resolving_to_a_6to4_loopback_is_refused(user, monkeypatch, settings):
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "sneaky.example.test":
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2002:7f00:1::", port, 0, 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(services.WebhookInvalid, match="6to4 for 127.0.0.1"):
        services.webhook_create(owner=user, url="https://sneaky.example.test/hook")


def test_the_private_setting_still_lifts_the_address_check():
    assert webhooks.target_resolve("http://[2002:7f00:1::]/hook", allow_private=True).port == 80


# --- ports ----------------------------------------------------------------------------------------------

DEFAULT_PORTS = frozenset({80, 443, 8080, 8443})


@pytest.mark.parametrize("url", ["http://93.184.215.14/", "https://93.184.215.14/", "http://93.184.215.14:8080/",
                                 "https://93.184.215.14:8443/x", "http://93.184.215.14:80/"])
def test_web_ports_are_allowed(url):
    webhooks.target_resolve(url, allow_private=False, allowed_ports=DEFAULT_PORTS)


@pytest.mark.parametrize("port", [25, 22, 6379, 5432, 11211, 9200, 2375, 1])
def test_other_ports_are_refused_before_any_lookup(port, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("resolved a refused URL"))
    with pytest.raises(webhooks.UnsafeTarget) as refused:
        webhooks.target_resolve(f"http://hooks.example.com:{port}/x", allow_private=False, allowed_ports=DEFAULT_PORTS)
    message = str(refused.value)
    assert f"Port {port} is not open to webhooks" in message
    assert "80, 443, 8080 or 8443" in message and "WEBHOOK_ALLOWED_PORTS" in message


def test_the_port_list_applies_to_private_targets_too():
    with pytest.raises(webhooks.UnsafeTarget, match="Port 6379"):
        webhooks.target_resolve("http://127.0.0.1:6379/", allow_private=True, allowed_ports=DEFAULT_PORTS)
    assert webhooks.target_resolve("http://127.0.0.1:6379/", allow_private=True, allowed_ports=None).port == 6379


@pytest.mark.django_db
def test_the_api_refuses_a_port_outside_the_setting(api_client, settings):
    settings.WEBHOOK_ALLOWED_PORTS = frozenset({443})
    response = api_client.post("/api/webhooks/", {"url": "http://93.184.215.14:8080/hook"}, format="json")
    assert response.status_code == 400
    assert "Port 8080 is not open to webhooks; use port 443" in response.json()["detail"]
    assert Webhook.objects.count() == 0


@pytest.mark.django_db
def test_delivery_checks_the_port_again(user, settings):
    """A hook saved under a wider list is not delivered once the list no longer allows its port."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_ALLOWED_PORTS = None
    hook = services.webhook_create(owner=user, url="http://127.0.0.1:6379/")
    settings.WEBHOOK_ALLOWED_PORTS = DEFAULT_PORTS
    delivery = services.webhook_ping(webhook=hook)
    services.delivery_attempt(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    assert "Port 6379" in delivery.error and delivery.status_code is None and delivery.state == "failed"


def test_the_setting_reads_a_list_or_a_star(monkeypatch):
    monkeypatch.delenv("WEBHOOK_ALLOWED_PORTS", raising=False)
    assert env_ports("WEBHOOK_ALLOWED_PORTS", DEFAULT_PORTS) == DEFAULT_PORTS
    monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", " 443, 8443 ")
    assert env_ports("WEBHOOK_ALLOWED_PORTS", DEFAULT_PORTS) == {443, 8443}
    monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", "*")
    assert env_ports("WEBHOOK_ALLOWED_PORTS", DEFAULT_PORTS) is None
    for bad in ("http", "0", "70000", "80;443"):
        monkeypatch.setenv("WEBHOOK_ALLOWED_PORTS", bad)
        with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_PORTS"):
            env_ports("WEBHOOK_ALLOWED_PORTS", DEFAULT_PORTS)


def test_the_shipped_default_is_the_web_ports():
    import assetsite.settings as shipped  # the module as the environment made it; tests override a copy

    assert shipped.WEBHOOK_ALLOWED_PORTS == DEFAULT_PORTS
