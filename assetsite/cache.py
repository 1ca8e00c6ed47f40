"""Django's Redis cache, except that an unreachable Redis is a cache miss instead of a 500.

Redis is the broker and the cache (API throttling). While it is down, uploads must still be accepted
(they wait as pending and the sweeper sends them once the broker is back), so the cache fails open:
reads miss, writes are dropped, and a warning is logged at most once every 30 seconds.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_WARN_EVERY = 30.0
_last_warning = 0.0

T = TypeVar("T")


def _fail_open(fallback: Callable[..., Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Wrap a cache method: when Redis cannot be reached, return ``fallback(*args, **kwargs)`` instead."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> T:
            global _last_warning
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as error:
                now = time.monotonic()
                if now - _last_warning > _WARN_EVERY:
                    _last_warning = now
                    logger.warning("cache unavailable (%s: %s); carrying on without it", type(error).__name__, error)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


def _constant(value: Any) -> Callable[..., Any]:
    return lambda *args, **kwargs: value


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return default


def _all_keys(data: dict[str, Any], *args: Any, **kwargs: Any) -> list[str]:
    return list(data)  # set_many reports the keys it could not set: all of them


class ResilientRedisCache(RedisCache):
    get = _fail_open(_default)(RedisCache.get)
    add = _fail_open(_constant(False))(RedisCache.add)
    set = _fail_open(_constant(None))(RedisCache.set)
    touch = _fail_open(_constant(False))(RedisCache.touch)
    delete = _fail_open(_constant(False))(RedisCache.delete)
    has_key = _fail_open(_constant(False))(RedisCache.has_key)
    get_many = _fail_open(lambda *args, **kwargs: {})(RedisCache.get_many)
    set_many = _fail_open(_all_keys)(RedisCache.set_many)
    delete_many = _fail_open(_constant(None))(RedisCache.delete_many)
    clear = _fail_open(_constant(False))(RedisCache.clear)
