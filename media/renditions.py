"""Renditions: resized and cropped derivatives of an original, made on request and cached in storage.

``fit=contain`` fits the picture inside width × height; ``fit=cover`` fills exactly width × height,
cropping around a focus box (the caller picks it: a detected object, or None for the centre). A
rendition is computed from the upright original (EXIF orientation applied), carries no metadata (so
no GPS), and is stored under a name made from the original's hash, the parameters and the focus box,
so a repeat is a file read. Each asset keeps at most RENDITION_CACHE_PER_ASSET renditions.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from media.imaging import open_upright_rgb
from media.limits import decode_limits
from media.models import Asset

logger = logging.getLogger(__name__)

Fit = Literal["cover", "contain"]
FORMATS: dict[str, tuple[str, str, str]] = {  # name: (Pillow format, content type, extension)
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
    "png": ("PNG", "image/png", "png"),
}
PARAMETERS = ("width", "height", "fit", "focus", "format", "quality")
DEFAULT_QUALITY = 85


class RenditionInvalid(ValueError):
    """A parameter that cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class FocusBox:
    """Where the subject is, in pixels of the upright original; what it is, for people."""

    x: int
    y: int
    width: int
    height: int
    description: str = ""


@dataclass(frozen=True)
class RenditionSpec:
    width: int | None
    height: int | None
    fit: Fit
    focus: str  # "auto" or a label; the caller turns it into a FocusBox
    format: str
    quality: int

    def params(self) -> dict[str, str]:
        """The query parameters that ask for this rendition (canonical: what signed URLs sign)."""
        values = {key: value for key, value in asdict(self).items() if value is not None}
        return {key: str(values[key]) for key in PARAMETERS if key in values}


def _whole(params: Mapping[str, str], name: str, *, low: int, high: int) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise RenditionInvalid(name, f"{name} must be a whole number from {low} to {high}, not {raw[:20]!r}.")
    return int(raw)


def rendition_spec_parse(params: Mapping[str, str]) -> RenditionSpec:
    """Read and check the parameters; every problem names the parameter at fault."""
    unknown = sorted(set(params) - set(PARAMETERS) - {"download", "expires", "signature"})
    if unknown:
        raise RenditionInvalid(unknown[0], f"Unknown parameter {unknown[0]!r}; use {', '.join(PARAMETERS)}.")
    most = settings.RENDITION_MAX_SIDE
    width = _whole(params, "width", low=1, high=most)
    height = _whole(params, "height", low=1, high=most)
    fit = (params.get("fit") or "contain").strip().lower()
    if fit not in ("cover", "contain"):
        raise RenditionInvalid("fit", f"fit must be cover or contain, not {fit[:20]!r}.")
    if width is None and height is None:
        raise RenditionInvalid("width", "Give width, height or both (pixels).")
    if fit == "cover" and (width is None or height is None):
        missing = "width" if width is None else "height"
        raise RenditionInvalid(
            missing, f"fit=cover fills an exact size: give both width and height ({missing} is missing)."
        )
    image_format = (params.get("format") or "jpeg").strip().lower()
    image_format = "jpeg" if image_format == "jpg" else image_format
    if image_format not in FORMATS:
        raise RenditionInvalid("format", f"format must be one of {', '.join(FORMATS)}, not {image_format[:20]!r}.")
    quality = _whole(params, "quality", low=1, high=100)
    focus = " ".join((params.get("focus") or "auto").strip().lower().split())
    if not focus or len(focus) > 100:
        raise RenditionInvalid("focus", "focus is auto or a label of at most 100 characters.")
    if fit == "contain":
        focus = "auto"  # nothing is cropped: the same rendition whatever the focus
    return RenditionSpec(
        width=width,
        height=height,
        fit=fit,  # type: ignore[arg-type]
        focus=focus,
        format=image_format,
        quality=DEFAULT_QUALITY if quality is None else quality,
    )


@dataclass(frozen=True)
class Geometry:
    crop: tuple[int, int, int, int]  # left, top, right, bottom in the upright original
    size: tuple[int, int]  # output width, height


def rendition_geometry(spec: RenditionSpec, *, width: int, height: int, focus: FocusBox | None) -> Geometry:
    """Which part of a ``width`` × ``height`` original becomes which output size."""
    most = settings.RENDITION_MAX_SIDE
    if spec.fit == "contain":
        scale = min(
            spec.width / width if spec.width else float("inf"),
            spec.height / height if spec.height else float("inf"),
        )
        size = (min(max(1, round(width * scale)), most), min(max(1, round(height * scale)), most))
        return Geometry(crop=(0, 0, width, height), size=size)
    assert spec.width and spec.height
    ratio = spec.width / spec.height
    # The largest crop of the output's shape; centred on the subject, then moved back inside the picture.
    if width / height > ratio:
        crop_w, crop_h = height * ratio, float(height)
    else:
        crop_w, crop_h = float(width), width / ratio
    if focus is not None:
        centre_x, centre_y = focus.x + focus.width / 2, focus.y + focus.height / 2
    else:
        centre_x, centre_y = width / 2, height / 2
    left = min(max(centre_x - crop_w / 2, 0.0), width - crop_w)
    top = min(max(centre_y - crop_h / 2, 0.0), height - crop_h)
    crop = (round(left), round(top), round(left + crop_w), round(top + crop_h))
    return Geometry(crop=crop, size=(spec.width, spec.height))


@dataclass(frozen=True)
class Rendition:
    name: str  # in storage
    content_type: str
    etag: str
    filename: str
    focus: FocusBox | None
    cached: bool  # True when it was already stored


def _cache_name(asset: Asset, spec: RenditionSpec, focus: FocusBox | None) -> tuple[str, str]:
    key = json.dumps(
        {"sha256": asset.sha256, "spec": spec.params(), "focus": asdict(focus) if focus else None, "v": 1},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{rendition_folder(asset.id)}/{digest[:32]}.{FORMATS[spec.format][2]}", digest[:32]


def rendition_folder(asset_id: uuid.UUID) -> str:
    return f"renditions/{asset_id.hex[:2]}/{asset_id.hex}"


def _render(asset: Asset, spec: RenditionSpec, focus: FocusBox | None) -> bytes:
    geometry = rendition_geometry(spec, width=asset.width, height=asset.height, focus=focus)
    left, top, right, bottom = geometry.crop
    # Decode no larger than needed (JPEG's reduced decoding), then scale the crop.
    scale = max(geometry.size[0] / max(right - left, 1), geometry.size[1] / max(bottom - top, 1))
    need = (max(1, round(asset.width * scale)), max(1, round(asset.height * scale)))
    pillow_format, _, _ = FORMATS[spec.format]
    with default_storage.open(asset.file.name, "rb") as handle:
        upright = open_upright_rgb(
            handle, target_size=need if scale < 1 else None, keep_alpha=True, limits=decode_limits()
        )
    if upright.mode == "RGBA" and pillow_format == "JPEG":  # JPEG has no transparency: white behind it
        flat = Image.new("RGB", upright.size, (255, 255, 255))
        flat.paste(upright, mask=upright.getchannel("A"))
        upright.close()
        upright = flat
    if upright.size != (asset.width, asset.height):  # decoded reduced: the crop in its pixels
        factor_x, factor_y = upright.width / asset.width, upright.height / asset.height
        left, right = round(left * factor_x), round(right * factor_x)
        top, bottom = round(top * factor_y), round(bottom * factor_y)
    image = upright.resize(geometry.size, Image.Resampling.LANCZOS, box=(left, top, right, bottom), reducing_gap=2.0)
    upright.close()
    buffer = io.BytesIO()
    options: dict[str, object] = {"optimize": True} if pillow_format == "PNG" else {"quality": spec.quality}
    if pillow_format == "WEBP":
        options["method"] = 4
    image.save(buffer, pillow_format, **options)  # no exif=: renditions carry no metadata
    return buffer.getvalue()


def _evict(asset: Asset, keep: str) -> None:
    """Keep the asset's renditions under RENDITION_CACHE_PER_ASSET by deleting the oldest."""
    folder = rendition_folder(asset.id)
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    paths = [f"{folder}/{name}" for name in names if f"{folder}/{name}" != keep]
    excess = len(paths) + 1 - settings.RENDITION_CACHE_PER_ASSET
    if excess <= 0:
        return
    paths.sort(key=default_storage.get_modified_time)
    for path in paths[:excess]:
        default_storage.delete(path)


def _rendition(asset: Asset, spec: RenditionSpec, focus: FocusBox | None, *, cached: bool) -> Rendition:
    name, digest = _cache_name(asset, spec, focus)
    stem = asset.original_filename.rsplit(".", 1)[0][:60] or "image"
    extension = FORMATS[spec.format][2]
    filename = f"{stem}-{spec.width or ''}x{spec.height or ''}.{extension}"
    return Rendition(name, FORMATS[spec.format][1], digest, filename, focus, cached=cached)


def rendition_find(*, asset: Asset, spec: RenditionSpec, focus: FocusBox | None) -> Rendition | None:
    """The stored rendition, or None if it has not been made yet."""
    rendition = _rendition(asset, spec, focus, cached=True)
    return rendition if default_storage.exists(rendition.name) else None


def rendition_make(*, asset: Asset, spec: RenditionSpec, focus: FocusBox | None) -> Rendition:
    """Compute the rendition and store it (evicting the asset's oldest beyond the per-asset limit).

    Raises media.decoding.DecodeBusy when the machine is decoding too much to start now.
    """
    rendition = _rendition(asset, spec, focus, cached=False)
    data = _render(asset, spec, focus)
    _evict(asset, keep=rendition.name)
    saved = default_storage.save(rendition.name, ContentFile(data))
    if saved != rendition.name:  # another request stored the same rendition meanwhile: keep one
        default_storage.delete(saved)
    return rendition


def renditions_delete(*, asset_id: uuid.UUID) -> None:
    """Every cached rendition of an asset (when it is deleted)."""
    folder = rendition_folder(asset_id)
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        default_storage.delete(f"{folder}/{name}")
