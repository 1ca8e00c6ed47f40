"""Redis is the cache as well as the broker: while it is down, the cache fails open instead of
turning every throttled API request into a 500 (tests/system/test_faults.py shows it on the live stack)."""

from __future__ import annotations

import logging
import os

import pytest

from assetsite.cache import ResilientRedisCache
from media.models import Asset
from tests.images import image_bytes, upload

DEAD_REDIS = "redis://127.0.0.1:9/0"  # nothing listens on port 9


def dead_cache() -> ResilientRedisCache:
    return ResilientRedisCache(DEAD_REDIS, {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})


def test_unreachable_redis_is_a_miss_and_writes_are_dropped(caplog, monkeypatch):
    monkeypatch.setattr("assetsite.cache._last_warning", 0.0)  # other tests may have warned just now
    cache = dead_cache()
    with caplog.at_level(logging.WARNING, logger="assetsite.cache"):
        assert cache.get("key") is None
        assert cache.get("key", "fallback") == "fallback"
        assert cache.get("key", default=7) == 7
        assert cache.set("key", 1) is None
        assert cache.add("key", 1) is False
        assert cache.has_key("key") is False
        assert cache.get_many(["a", "b"]) == {}
        assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
        assert cache.delete("key") is False
    warnings = [record for record in caplog.records if "cache unavailable" in record.getMessage()]
    assert 1 <= len(warnings) <= 2, "a dead cache must be reported, but not once per call"


def test_a_reachable_redis_works_as_a_cache():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL")
    cache = ResilientRedisCache(url, {})
    cache.set("assetsite-cache-test", {"n": 1}, timeout=30)
    assert cache.get("assetsite-cache-test") == {"n": 1}
    cache.delete("assetsite-cache-test")
    assert cache.get("assetsite-cache-test", "gone") == "gone"


@pytest.mark.django_db
def test_api_upload_is_accepted_while_the_cache_is_down(api_client, settings):
    settings.CACHES = {"default": {"BACKEND": "assetsite.cache.ResilientRedisCache", "LOCATION": DEAD_REDIS,
                                   "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    response = api_client.post("/api/assets/", {"file": upload(image_bytes("PNG"), "during-outage.png")},
                               format="multipart")
    assert response.status_code == 201, response.content
    assert Asset.objects.filter(pk=response.json()["id"]).exists()


@pytest.mark.django_db
def test_with_django_s_plain_redis_cache_the_same_upload_fails(api_client, settings):
    # Why the resilient backend exists: the stock one raises, and DRF's throttle turns that into an error.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS,
                                   "OPTIONS": {"socket_connect_timeout": 0.5}}}
    with pytest.raises(Exception, match="(?i)connect"):
        api_client.post("/api/assets/", {"file": upload(image_bytes("PNG"), "x.png")}, format="multipart")
