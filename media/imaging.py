"""Decide what an uploaded file is by its content, read its metadata and make derived images.

No Django models here; limits are passed in so the functions are easy to test and reuse.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO

from PIL import Image, UnidentifiedImageError
from pillow_heif import register_heif_opener

from media.decoding import DecodeBusy, DecodeLimits, decode_reservation

register_heif_opener()

# Pillow format name -> (MIME type, file extension). Everything else is refused.
ACCEPTED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
    "TIFF": ("image/tiff", "tif"),
    "HEIF": ("image/heif", "heic"),
}
ACCEPTED_DESCRIPTION = "JPEG, PNG, WebP, GIF, TIFF or HEIC/HEIF"
# Other names Pillow gives files of an accepted format. MPO (multi-picture JPEG, written by stereo and
# multi-shot cameras and some phones) is a JPEG whose first picture is the one every viewer shows.
FORMAT_ALIASES: dict[str, str] = {"MPO": "JPEG"}
# Pillow plugins that may open an upload: the accepted formats (JPEG's also yields MPO).
_OPENERS = list(ACCEPTED_FORMATS)
# Videos are recognised and read by media.video; named here so every refusal lists both.
ACCEPTED_VIDEO_CONTAINERS = "MP4, MOV, WebM or MKV"

_EXIF_ORIENTATION = 0x0112
_EXIF_DATETIME = 0x0132
_EXIF_MAKE = 0x010F
_EXIF_MODEL = 0x0110
_EXIF_IFD = 0x8769
_EXIF_GPS_IFD = 0x8825
_EXIF_DATETIME_ORIGINAL = 0x9003
_EXIF_OFFSET_TIME_ORIGINAL = 0x9011


class ImageRejected(Exception):
    """The content is not an image this site accepts. ``code`` is stable; the message is for people."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, for refusals that are only "not now"


# Leading bytes of common non-image files, to name them in the refusal.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"#!", "a script"),
    (b"BM", "a BMP image, which is not accepted"),
    (b"%!PS", "a PostScript/EPS file, which is not accepted"),
    (b"\x00\x00\x01\x00", "an ICO icon, which is not accepted"),
    (b"8BPS", "a Photoshop document, which is not accepted"),
]


_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")


def accepted_format(pillow_format: str | None) -> str:
    """The accepted format a Pillow format name stands for (MPO is JPEG); ImageRejected for any other name.

    Every lookup in ACCEPTED_FORMATS goes through here, so a name a plugin reports that this site does
    not know is a refusal with a message, never a KeyError.
    """
    name = FORMAT_ALIASES.get(pillow_format or "", pillow_format or "")
    if name not in ACCEPTED_FORMATS:
        raise ImageRejected(
            "unsupported_format",
            f"The file is a {pillow_format or 'unknown'} image, which is not accepted. "
            f"Upload a {ACCEPTED_DESCRIPTION} image.",
        )
    return name


def looks_like_accepted_format(head: bytes) -> bool:
    """True when the first bytes carry the signature of a format we accept (so a failure is corruption)."""
    return (
        head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS)
    )


def describe_refused_content(head: bytes) -> str | None:
    """Name a well-known non-image type from the first bytes, or None."""
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            return description
    if len(head) > 12 and head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "an AVIF image, which is not accepted"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "an SVG drawing (SVG can carry scripts and is not accepted)"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "an HTML page"
    if text.startswith(b"<"):
        return "an XML or HTML document"
    return None


@dataclass(frozen=True)
class ImageInfo:
    format: str
    mime_type: str
    extension: str
    width: int  # upright, EXIF orientation applied
    height: int
    taken_at: datetime | None
    camera: str
    taken_offset: int | None = None  # minutes east of UTC, when the file says


def _parse_exif_time(value: object, offset: object) -> tuple[datetime | None, int | None]:
    """The EXIF time as an aware datetime and the camera's offset in minutes (None: not written,
    and the time is read as UTC)."""
    if not isinstance(value, str):
        return None, None
    try:
        moment = datetime.strptime(value.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, None
    text = offset.strip().rstrip("\x00") if isinstance(offset, str) else ""
    if re.fullmatch(r"[+-]\d{2}:\d{2}", text):
        sign = -1 if text[0] == "-" else 1
        hours, minutes = (int(part) for part in text[1:].split(":"))
        minutes_east = sign * (hours * 60 + minutes)
        if abs(minutes_east) <= 14 * 60:  # real zones span -12:00..+14:00
            return moment.replace(tzinfo=timezone(timedelta(minutes=minutes_east))), minutes_east
    return moment.replace(tzinfo=UTC), None


def _clean_text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable()).strip()


def _camera(make: object, model: object) -> str:
    make_text, model_text = _clean_text(make), _clean_text(model)
    # Many cameras repeat the maker in the model name ("Canon" + "Canon EOS 80D").
    if make_text and model_text.lower().startswith(make_text.lower()):
        return model_text[:255]
    return " ".join(part for part in (make_text, model_text) if part)[:255]


_BOMB_MESSAGE = "The image declares so many pixels that decoding it could exhaust memory."


def open_and_verify(
    source: IO[bytes],
    *,
    max_pixels: int,
    max_frames: int = 5000,
    max_animation_pixels: int = 10**9,
    reduce_to: int | None = None,
    limits: DecodeLimits | None = None,
) -> tuple[ImageInfo, Image.Image, Image.Exif]:
    """Identify, bound and fully decode the first frame; return info, the upright image and its EXIF.

    The image comes back upright (EXIF orientation applied) as 8-bit RGB or RGBA. With ``reduce_to`` it
    is only as large as derived images of that many pixels on the long side need: a JPEG decodes at the
    smallest DCT scale that still covers it (every coefficient is still read, so truncation is still
    caught), and anything larger is box-reduced by an integer factor while it is converted, tile by tile.
    The full-size frame exists once, in the decoder's buffer, under ``limits`` (media/decoding.py), and
    is released before this returns. ``info`` always has the full upright size.

    Animations are bounded too (frame count, and frames × canvas pixels): only their first frame is
    decoded here, but a stored animation bomb would hit whoever plays it.

    Raises ImageRejected with a message naming the problem (``server_busy`` when ``limits`` turned the
    decode away; it carries ``retry_after``).
    """
    source.seek(0)
    head = source.read(64)
    source.seek(0)
    if not head:
        raise ImageRejected("empty_file", "The file is empty.")
    known = describe_refused_content(head)
    if known:
        raise ImageRejected(
            "unsupported_format",
            f"The file is {known}. Upload a {ACCEPTED_DESCRIPTION} image or an {ACCEPTED_VIDEO_CONTAINERS} video.",
        )
    with warnings.catch_warnings():
        # Pillow's decompression-bomb warning is an error here, whatever our own limit says.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(source, formats=_OPENERS)
        except UnidentifiedImageError:
            if looks_like_accepted_format(head):
                raise ImageRejected("corrupt_image", "The image is corrupt: its header could not be read.") from None
            raise ImageRejected(
                "unsupported_format",
                f"The file is not a {ACCEPTED_DESCRIPTION} image nor an {ACCEPTED_VIDEO_CONTAINERS} video "
                "(its content was not recognised).",
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected("too_many_pixels", _BOMB_MESSAGE) from None
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise ImageRejected("corrupt_image", f"The image is corrupt or truncated ({error}).") from None
        try:
            fmt = accepted_format(image.format)
            stored_size = image.size
            width, height = stored_size
            if width < 1 or height < 1:
                raise ImageRejected("corrupt_image", "The image has no pixels.")
            if width * height > max_pixels:
                raise ImageRejected(
                    "too_many_pixels",
                    f"The image is {width}×{height} = {width * height / 1e6:.1f} megapixels; "
                    f"the limit is {max_pixels / 1e6:.0f} megapixels. Downscale it and upload again.",
                )
            _check_animation(image, max_frames=max_frames, max_animation_pixels=max_animation_pixels)
            cover = _cover(stored_size, reduce_to) if reduce_to else None
            upright, exif = _decode(image, draft_to=cover, keep_at_least=cover, keep_alpha=True, limits=limits)
        except ImageRejected:
            _release(image)
            raise
        except DecodeBusy as busy:
            _release(image)
            raise ImageRejected(
                "server_busy", f"{busy} Try again in a few seconds.", retry_after=busy.retry_after
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            _release(image)
            raise ImageRejected("too_many_pixels", _BOMB_MESSAGE) from None
        except MemoryError:
            _release(image)
            raise ImageRejected("too_many_pixels", "The image is too large to decode on this server.") from None
        except _UnsupportedMode as error:
            _release(image)
            raise ImageRejected(
                "unsupported_format", f"The image's colour mode is not supported ({error}). Save it as RGB."
            ) from None
        except Exception as error:  # decoders raise many types for broken data
            _release(image)
            raise ImageRejected("corrupt_image", f"The image is corrupt or truncated ({error}).") from None
    mime_type, extension = ACCEPTED_FORMATS[fmt]
    exif_ifd = exif.get_ifd(_EXIF_IFD)
    taken_at, taken_offset = _parse_exif_time(
        exif_ifd.get(_EXIF_DATETIME_ORIGINAL) or exif.get(_EXIF_DATETIME), exif_ifd.get(_EXIF_OFFSET_TIME_ORIGINAL)
    )
    upright_width, upright_height = _upright_size(stored_size, exif)
    info = ImageInfo(
        format=fmt,
        mime_type=mime_type,
        extension=extension,
        width=upright_width,
        height=upright_height,
        taken_at=taken_at,
        camera=_camera(exif.get(_EXIF_MAKE), exif.get(_EXIF_MODEL)),
        taken_offset=taken_offset,
    )
    return info, upright, exif


def _check_animation(image: Image.Image, *, max_frames: int, max_animation_pixels: int) -> None:
    try:
        # Container headers give this for WebP and APNG; for GIF it walks the frame headers
        # without decoding pixels.
        frames = int(getattr(image, "n_frames", 1) or 1)
        image.seek(0)
    except Exception as error:  # a broken frame table is a broken file
        raise ImageRejected("corrupt_image", f"The animation's frames could not be read ({error}).") from None
    width, height = image.size
    if frames > max_frames or frames * width * height > max_animation_pixels:
        raise ImageRejected(
            "too_many_frames",
            f"The animation has {frames} frames of {width}×{height}; the limits are {max_frames} frames and "
            f"{max_animation_pixels / 1e6:.0f} megapixels over all frames. Shorten or downscale it.",
        )


def derived_exif(exif: Image.Exif, *, strip_gps: bool) -> bytes:
    """EXIF for derived images: orientation already applied, GPS removed when asked."""
    kept = Image.Exif()
    for tag, value in exif.items():
        if tag in (_EXIF_ORIENTATION, _EXIF_IFD, _EXIF_GPS_IFD):
            continue
        kept[tag] = value
    if not strip_gps and exif.get_ifd(_EXIF_GPS_IFD):
        kept[_EXIF_GPS_IFD] = exif.get_ifd(_EXIF_GPS_IFD)
    try:
        return kept.tobytes()
    except Exception:  # odd maker values that Pillow cannot write back: keep none
        return b""


class _UnsupportedMode(ValueError):
    """A colour mode Pillow decodes but cannot convert to RGB."""


def _release(image: Image.Image) -> None:
    """Free the decoded pixels now, leaving the caller's file open (ImageFile.close would close it)."""
    Image.Image.close(image)
    if image.format == "WEBP" and hasattr(image, "_decoder"):
        image._decoder = None  # libwebp's two canvases: 8 bytes a pixel until the image object goes
        image.fp = None  # the decoded frame's bytes


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)


def to_8bit(image: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """RGB (or RGBA) for any mode Pillow decodes: palette, CMYK, LA, 16-bit and float greyscale.

    An image already in the wanted mode is returned as it is, not copied.
    """
    wanted = "RGBA" if keep_alpha and _has_alpha(image) else "RGB"
    if image.mode == wanted:
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit greyscale: keep the top 8 bits rather than clipping everything above 255 to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode == "F":
        image = image.point(lambda value: value * 255).convert("L")
    try:
        return image.convert(wanted)
    except ValueError as error:  # e.g. a CIELab TIFF: Pillow has no conversion for it
        raise _UnsupportedMode(f"{image.mode}: {error}") from None


# How many times its decoded size a decoder holds at its peak, where that is more than once. Pillow decodes
# WebP through libwebp's animation decoder, which keeps two full canvases, and copies the frame out of it
# (bench/upload_memory.py: 1.53 GB for a 100 MP WebP, 0.40 GB for the same PNG); libheif hands over its
# own RGB buffer, which Pillow copies (about twice). The decode budget counts pixels × weight, and a large
# image of such a format takes that many of the machine's decode slots.
DECODE_WEIGHT = {"WEBP": 4, "HEIF": 2}

# Converted and reduced this many pixels at a time (a tile of at most ~16 MB of RGBA), so a large frame
# never exists twice at full size, whatever its mode.
_TILE = 2048

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _upright_size(size: tuple[int, int], exif: Image.Exif) -> tuple[int, int]:
    return (size[1], size[0]) if _orientation(exif) in (5, 6, 7, 8) else size


def _cover(size: tuple[int, int], longest: int) -> tuple[int, int] | None:
    """The size with ``longest`` on the long side and the image's aspect ratio; None if already smaller."""
    width, height = size
    if max(width, height) <= longest:
        return None
    if width >= height:
        return longest, max(1, height * longest // width)
    return max(1, width * longest // height), longest


def _reduction(size: tuple[int, int], keep_at_least: tuple[int, int] | None) -> int:
    """The largest integer factor that keeps both sides at least ``keep_at_least``."""
    if keep_at_least is None:
        return 1
    return max(1, min(size[0] // max(1, keep_at_least[0]), size[1] // max(1, keep_at_least[1])))


def _reduced_8bit(image: Image.Image, factor: int, *, keep_alpha: bool) -> Image.Image:
    """``image`` as 8-bit RGB(A), box-reduced by ``factor``, converted tile by tile.

    Tiles start at multiples of ``factor``, so every output pixel averages the same input pixels as
    ``image.reduce(factor)`` would (the same result), without a full-size converted copy.
    """
    wanted = "RGBA" if keep_alpha and _has_alpha(image) else "RGB"
    if factor == 1 and image.mode == wanted:
        return image
    width, height = image.size
    reduced = Image.new(wanted, (-(-width // factor), -(-height // factor)))
    step = max(factor, _TILE // factor * factor)
    for top in range(0, height, step):
        for left in range(0, width, step):
            tile = to_8bit(image.crop((left, top, min(width, left + step), min(height, top + step))),
                           keep_alpha=keep_alpha)
            if tile.mode != wanted:  # a tile of a palette image may lack the transparent index
                tile = tile.convert(wanted)
            if factor > 1:
                tile = tile.reduce(factor)
            reduced.paste(tile, (left // factor, top // factor))
    return reduced


def _decode(
    image: Image.Image,
    *,
    draft_to: tuple[int, int] | None,
    keep_at_least: tuple[int, int] | None,
    keep_alpha: bool,
    limits: DecodeLimits | None,
) -> tuple[Image.Image, Image.Exif]:
    """Decode the first frame (JPEG at a reduced scale that still covers ``draft_to``), reduce it to no
    less than ``keep_at_least`` (stored orientation), convert to 8 bits and turn it upright.

    The result is always a new image (never the decoder's, whose close() would close the caller's
    file); the decoded frame is released before this returns.
    """
    image.seek(0)
    if draft_to and image.format in ("JPEG", "MPO"):
        image.draft(None, draft_to)
    with decode_reservation(image.width * image.height, limits, weight=DECODE_WEIGHT.get(image.format or "", 1)):
        image.load()
        exif = image.getexif()
        method = _ORIENTATION_TRANSPOSE.get(_orientation(exif))
        working = _reduced_8bit(image, _reduction(image.size, keep_at_least), keep_alpha=keep_alpha)
        if working is image:  # already small enough and 8-bit: one copy, upright if need be
            working = image.transpose(method) if method is not None else image.copy()
            method = None
        _release(image)
    if method is None:
        return working, exif
    upright = working.transpose(method)
    working.close()
    return upright, exif


def open_upright_rgb(
    source: IO[bytes],
    *,
    target_size: tuple[int, int] | None = None,
    limits: DecodeLimits | None = None,
    keep_alpha: bool = False,
) -> Image.Image:
    """Decode the first frame, apply EXIF orientation, return RGB (RGBA with ``keep_alpha`` when the
    picture has transparency): what the detector and renditions look at.

    With ``target_size`` (upright width, height) JPEGs are decoded at reduced resolution where the
    codec allows (still at least that size), far cheaper than decoding at full size and scaling; other
    formats are box-reduced to no less than twice that size while they are converted (the detector's
    own resize does the rest, as before). Without it, the full-size upright image.
    """
    image = Image.open(source, formats=_OPENERS)
    try:
        draft_to = keep_at_least = None
        if target_size:
            width, height = target_size
            if (image.width >= image.height) != (width >= height):
                width, height = height, width  # stored sideways: EXIF turns it upright later
            draft_to, keep_at_least = (width, height), (2 * width, 2 * height)
        upright, _ = _decode(
            image, draft_to=draft_to, keep_at_least=keep_at_least, keep_alpha=keep_alpha, limits=limits
        )
    except BaseException:
        _release(image)
        raise
    return upright


def make_thumbnails(image: Image.Image, sizes: dict[str, int], *, exif: bytes = b"") -> dict[str, bytes]:
    """WebPs no larger than each size on either side, from an upright 8-bit image.

    Largest first, each scaled from the one before, in place: ``image`` (the caller's reduced working
    copy from open_and_verify) ends as the smallest thumbnail.
    """
    thumbnails: dict[str, bytes] = {}
    for name, longest_side in sorted(sizes.items(), key=lambda item: item[1], reverse=True):
        # reducing_gap=1: a box reduction by the integer factor, then Lanczos for the rest; twice as fast
        # as Lanczos alone and 51 dB PSNR against it (bench/load.py's photos).
        image.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS, reducing_gap=1.0)
        buffer = io.BytesIO()
        # method 1, not Pillow's default 4: encoding is the biggest cost of an upload; method 1 is 3×
        # faster than 4 and 1.5× faster than 2 for the same PSNR and files about 5 % larger.
        to_8bit(image, keep_alpha=True).save(buffer, "WEBP", quality=82, method=1, exif=exif)
        thumbnails[name] = buffer.getvalue()
    return thumbnails
