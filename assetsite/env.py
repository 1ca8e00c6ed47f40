"""Typed readers for settings that come from the environment.

Each raises ImproperlyConfigured naming the variable, so a typo in a deployment fails at start-up
with a message instead of somewhere deep inside a request.
"""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1 or 0.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_float(name: str, default: float, *, low: float | None = None, high: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if math.isnan(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ImproperlyConfigured(f"{name}={raw!r} must be between {low} and {high}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_ports(name: str, default: frozenset[int]) -> frozenset[int] | None:
    """Comma-separated TCP ports, or ``*`` for any (returned as None)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip() == "*":
        return None
    ports: set[int] = set()
    for item in filter(None, (part.strip() for part in raw.split(","))):
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a port (1-65535); list ports like 80,443 or use *.")
        ports.add(int(item))
    return frozenset(ports)


def parse_label_thresholds(text: str, *, name: str = "TAGGING_LABEL_THRESHOLDS") -> dict[str, float]:
    """``"person=0.7, traffic light=0.4"`` → ``{"person": 0.7, "traffic light": 0.4}``."""
    thresholds: dict[str, float] = {}
    for part in filter(None, (chunk.strip() for chunk in text.split(","))):
        label, sep, value = part.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not label.strip() or math.isnan(number) or not 0.0 <= number <= 1.0:
            raise ImproperlyConfigured(
                f"{name}: bad entry {part!r}; expected label=number between 0 and 1, e.g. person=0.7."
            )
        thresholds[label.strip().lower()] = number
    return thresholds
