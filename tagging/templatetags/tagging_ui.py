"""Template helpers for the tagging pages: a colour per label, the same one everywhere.

The colour comes from the label's name alone (FNV-1a hash → hue), so a label keeps its colour across
pages and sessions without storing anything. static/js/site.js computes the same colours for
labels that arrive through the API (upload page); keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template

register = template.Library()


def _fnv1a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _round(number: float) -> int:
    return int(number + 0.5)  # JavaScript's Math.round for positive numbers, not banker's rounding


def _hsl_hex(hue: float, saturation: float, lightness: float) -> str:
    chroma = (1 - abs(2 * lightness - 1)) * saturation
    part = chroma * (1 - abs((hue / 60) % 2 - 1))
    match = lightness - chroma / 2
    sector = int(hue // 60) % 6
    red, green, blue = [
        (chroma, part, 0.0),
        (part, chroma, 0.0),
        (0.0, chroma, part),
        (0.0, part, chroma),
        (part, 0.0, chroma),
        (chroma, 0.0, part),
    ][sector]
    return "#" + "".join(f"{_round((channel + match) * 255):02x}" for channel in (red, green, blue))


def relative_luminance(color: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class LabelColors:
    hue: int
    box: str  # box outline and caption background
    box_text: str  # caption text on ``box``: black or white, whichever contrasts more (always >= 4.5:1)
    chip: str  # chip background
    chip_text: str  # chip text, >= 4.5:1 on ``chip``

    @property
    def style(self) -> str:
        return (
            f"--label-box:{self.box};--label-box-text:{self.box_text};"
            f"--label-chip:{self.chip};--label-chip-text:{self.chip_text}"
        )


def label_colors(name: str) -> LabelColors:
    hue = _fnv1a(name) % 360
    box = _hsl_hex(hue, 0.85, 0.45)
    box_text = "#000000" if contrast_ratio(box, "#000000") >= contrast_ratio(box, "#ffffff") else "#ffffff"
    return LabelColors(
        hue=hue,
        box=box,
        box_text=box_text,
        chip=_hsl_hex(hue, 0.80, 0.92),
        chip_text=_hsl_hex(hue, 0.75, 0.22),
    )


@register.filter
def label_style(name: str) -> str:
    """CSS custom properties with the label's colours, for a style attribute."""
    return label_colors(str(name)).style


@register.filter
def field_value(form: object, name: str) -> str:
    """A bound form field's current value, "" when empty (for inputs rendered by hand)."""
    try:
        value = form[name].value()  # type: ignore[index]
    except KeyError:
        return ""
    return "" if value is None else str(value)
