"""A corpus of hostile uploads and odd-but-valid images, generated in memory at run time.

No binary fixtures: every file is built here from Pillow output or written byte by byte, so what
each one is (and why it must be refused or accepted) is readable in the code.

``hostile()`` must each be refused with a clear 4xx and leave nothing stored; ``odd_valid()`` must
each be accepted and then tagged by a real worker. Used by tests/system/test_hostile.py (through the API
and a real worker) and bench/hostile.py (which prints the table).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image
from pillow_heif import register_heif_opener

register_heif_opener()

ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIF")
EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "TIFF": "tif", "HEIF": "heic"}


@dataclass(frozen=True)
class Sample:
    name: str  # the file name sent with the upload (some are hostile themselves)
    data: bytes
    category: str
    # Hostile: the status, error code and a phrase the message must contain. Valid: status 201.
    status: int
    code: str = ""
    phrase: str = ""
    note: str = ""
    # Valid samples: the image's upright size, as the API must report it.
    size: tuple[int, int] | None = field(default=None)

    @property
    def hostile(self) -> bool:
        return self.status >= 400


# --- building blocks ---------------------------------------------------------------------------


def _noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Noisy RGB so encoders cannot compress it away and truncation lands inside pixel data."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, idat: bytes, *, extra: bytes = b"", bit_depth: int = 1, colour: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra + _png_chunk(b"IDAT", idat) + _png_chunk(
        b"IEND", b""
    )


def png_declaring(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG whose header declares ``width``×``height`` pixels (a few rows of data only)."""
    row = b"\x00" + b"\x00" * ((min(width, 1 << 20) + 7) // 8)
    return _png(width, height, zlib.compress(row * 4, 9))


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose screen and first frame declare ``width``×``height`` with a few bytes of LZW data."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b"\x3b"


def tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian TIFF, one deflate strip of a few bytes, declaring ``width``×``height`` 1-bit pixels."""
    strip = zlib.compress(b"\x00" * 64)
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 1),  # BitsPerSample
        (259, 3, 1, 8),  # Compression: deflate
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 0),  # StripOffsets (patched below)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, len(strip)),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    strip_offset = 8 + ifd_size
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = strip_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        body += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + body + b"\x00\x00\x00\x00" + strip


def webp_declaring(width: int, height: int) -> bytes:
    """A lossless WebP whose VP8L header declares ``width``×``height`` (14 bits each), then junk."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 32
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG with its SOF0 frame header rewritten to declare ``width``×``height``."""
    data = bytearray(encode(Image.new("RGB", (16, 16), (90, 120, 200)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def heif_declaring(width: int, height: int) -> bytes:
    """A real small HEIC whose image-spatial-extents ('ispe') boxes declare ``width``×``height``."""
    data = bytearray(encode(Image.new("RGB", (64, 64), (30, 160, 90)), "HEIF"))
    start = 0
    while (found := data.find(b"ispe", start)) != -1:
        struct.pack_into(">II", data, found + 8, width, height)  # after the box's version and flags
        start = found + 4
    return bytes(data)


def gif_animated_bomb(canvas: int = 4000, frames: int = 30_000) -> bytes:
    """A 16-megapixel canvas with tens of thousands of 1×1 frames: every frame composited costs the canvas."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", canvas, canvas, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for index in range(frames):
        x, y = (index * 7919) % canvas, (index * 104729) % canvas
        out += b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control: no delay
        out += b"\x2c" + struct.pack("<HHHHB", x, y, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"
    out += b"\x3b"
    return bytes(out)


def apng_animated_bomb(canvas: int = 4000, frames: int = 30_000) -> bytes:
    """An APNG: a 16-megapixel canvas, a compressible first frame and tens of thousands of 1×1 frames."""
    row = b"\x00" + b"\x00" * ((canvas + 7) // 8)
    chunks = [_png_chunk(b"acTL", struct.pack(">II", frames, 0))]
    sequence = 0
    chunks.append(_png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, canvas, canvas, 0, 0, 0, 1, 0, 0)))
    sequence += 1
    first = _png_chunk(b"IDAT", zlib.compress(row * canvas, 9))
    tiny = zlib.compress(b"\x00\x00")
    rest = []
    for index in range(1, frames):
        x, y = (index * 7919) % canvas, (index * 104729) % canvas
        rest.append(_png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, 1, 1, x, y, 0, 1, 0, 0)))
        rest.append(_png_chunk(b"fdAT", struct.pack(">I", sequence + 1) + tiny))
        sequence += 2
    header = struct.pack(">IIBBBBB", canvas, canvas, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + b"".join(chunks) + first + b"".join(rest)
        + _png_chunk(b"IEND", b"")
    )


def webp_animated_bomb(canvas: int = 4000, frames: int = 20_000) -> bytes:
    """An animated WebP: a 16-megapixel canvas and tens of thousands of 1×1 lossless frames."""
    single = encode(Image.new("RGBA", (1, 1), (255, 0, 0, 255)), "WEBP", lossless=True)
    vp8l = single[single.find(b"VP8L") :]
    vp8l = vp8l[: 8 + struct.unpack("<I", vp8l[4:8])[0] + (struct.unpack("<I", vp8l[4:8])[0] & 1)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")

    def u24(value: int) -> bytes:
        return struct.pack("<I", value)[:3]

    body = chunk(b"VP8X", bytes([0x12, 0, 0, 0]) + u24(canvas - 1) + u24(canvas - 1))  # animation + alpha
    body += chunk(b"ANIM", b"\x00\x00\x00\x00\x00\x00")
    for index in range(frames):
        x, y = ((index * 7919) % canvas) // 2, ((index * 104729) % canvas) // 2
        body += chunk(b"ANMF", u24(x) + u24(y) + u24(0) + u24(0) + u24(1) + b"\x00" + vp8l)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- the corpus ---------------------------------------------------------------------------------

CORRUPT = ("corrupt_image", "corrupt")
UNSUPPORTED = ("unsupported_format", "upload a jpeg, png, webp, gif, tiff or heic/heif image")
NOT_RECOGNISED = ("unsupported_format", "not recognised")
PIXELS = ("too_many_pixels", "pixels")


def hostile() -> Iterator[Sample]:
    def bad(name: str, data: bytes, category: str, status: int, expected: tuple[str, str], note: str) -> Sample:
        return Sample(name, data, category, status, expected[0], expected[1], note)

    photos = {fmt: encode(_noise((160, 120), seed=len(fmt)), fmt) for fmt in ACCEPTED}

    # Truncated and malformed files of every accepted format.
    for fmt, data in photos.items():
        ext = EXT[fmt]
        yield bad(f"header-only.{ext}", data[:16], "truncated", 400, CORRUPT, f"{fmt}: first 16 bytes")
        yield bad(f"half.{ext}", data[: len(data) // 2], "truncated", 400, CORRUPT, f"{fmt}: first half")
        garbage = data[:12] + random.Random(fmt).randbytes(2000)
        yield bad(f"garbage-after-magic.{ext}", garbage, "malformed", 400, CORRUPT, f"{fmt}: signature + noise")
    png = photos["PNG"]
    yield bad("bad-crc.png", png[:29] + b"\x00\x00\x00\x00" + png[33:], "malformed", 400, CORRUPT, "IHDR CRC wrong")
    yield bad("zero-width.png", png_declaring(0, 10), "malformed", 400, CORRUPT, "IHDR says 0 pixels wide")
    text_bomb = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * 50_000_000, 9))
    yield bad("ztxt-bomb.png", _png(8, 8, zlib.compress(b"\x00\x00" * 8), extra=text_bomb), "decompression bomb",
              400, CORRUPT, "text chunk inflating to 50 MB")
    jpeg = photos["JPEG"]
    sof = jpeg.find(b"\xff\xc0")
    yield bad("no-frame-header.jpg", jpeg[:sof] + jpeg[sof + 19 :], "malformed", 400, CORRUPT, "SOF0 removed")
    tiff = bytearray(photos["TIFF"])
    struct.pack_into("<I", tiff, 4, 0x7FFFFFF0)
    yield bad("ifd-out-of-file.tif", bytes(tiff), "malformed", 400, CORRUPT, "first IFD offset past the end")

    # Decompression bombs and huge declared dimensions: refused from the header, before decoding.
    yield bad("bomb.png", png_declaring(100_000, 100_000), "decompression bomb", 413, PIXELS, "10 gigapixels")
    yield bad("bomb.gif", gif_declaring(65_535, 65_535), "decompression bomb", 413, PIXELS, "4.3 gigapixels")
    yield bad("bomb.tif", tiff_declaring(100_000, 100_000), "decompression bomb", 413, PIXELS, "10 gigapixels")
    yield bad("bomb.webp", webp_declaring(16_384, 16_384), "decompression bomb", 413, PIXELS, "268 megapixels")
    yield bad("bomb.heic", heif_declaring(40_000, 40_000), "decompression bomb", 413, PIXELS, "1.6 gigapixels")
    yield bad("huge.jpg", jpeg_declaring(65_500, 65_500), "huge dimensions", 413, PIXELS, "65500×65500 in SOF0")
    yield bad("strip-2g.png", png_declaring(2_147_483_647, 1), "huge dimensions", 413, PIXELS, "2³¹-1 × 1")
    yield bad("over-limit.tif", tiff_declaring(12_000, 9_000), "huge dimensions", 413, PIXELS,
              "108 MP: over ASSET_MAX_PIXELS")
    yield bad("animated-bomb.gif", gif_animated_bomb(), "animated bomb", 413, ("too_many_frames", "frames"),
              "16 MP canvas × 30,000 frames")
    yield bad("animated-bomb.png", apng_animated_bomb(), "animated bomb", 413, ("too_many_frames", "frames"),
              "APNG: 16 MP canvas × 30,000 frames")
    yield bad("animated-bomb.webp", webp_animated_bomb(), "animated bomb", 413, ("too_many_frames", "frames"),
              "16 MP canvas × 20,000 frames")

    # Polyglots: another format wearing an image's clothes, or an image's signature over something else.
    yield bad("pdf-jpeg.jpg", b"%PDF-1.4\n%" + jpeg, "polyglot", 415, ("unsupported_format", "pdf"),
              "PDF header, JPEG body")
    yield bad("zip-first.jpg", _zip("x.jpg", jpeg) + jpeg, "polyglot", 415, ("unsupported_format", "zip"),
              "ZIP archive holding a JPEG, JPEG appended")
    yield bad("html-gif.gif", b"<html><body><script>alert(1)</script>" + photos["GIF"], "polyglot", 415,
              ("unsupported_format", "html"), "HTML page with a GIF inside")
    yield bad("gif-js.gif", b"GIF89a/*\x00\x00\x00\x00*/=1;alert(document.domain);//" + b"\x00" * 40, "polyglot",
              400, CORRUPT, "GIF/JavaScript polyglot")
    yield bad("jpeg-html.jpg", jpeg[:200] + b"<script>alert(1)</script>" * 20, "polyglot", 400, CORRUPT,
              "JPEG header, HTML body")
    yield bad("png-svg.png", b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>", "polyglot", 400, CORRUPT,
              "PNG signature, SVG body")
    yield bad("elf-png.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + png, "polyglot", 415,
              ("unsupported_format", "executable"), "ELF header, PNG appended")

    # Not images at all.
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    yield bad("script.svg", svg, "svg", 415, ("unsupported_format", "svg"), "SVG with <script>")
    yield bad("bare.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "svg", 415,
              ("unsupported_format", "svg"), "SVG, no XML declaration")
    yield bad("page.html", b"<!DOCTYPE html><html><script>fetch('/api/assets/')</script></html>", "html", 415,
              ("unsupported_format", "html"), "HTML")
    yield bad("bom-page.jpg", b"\xef\xbb\xbf  <html><img src=x onerror=alert(1)>", "html", 415,
              ("unsupported_format", "html"), "HTML with BOM and leading spaces")
    yield bad("doc.pdf", b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF", "pdf", 415,
              ("unsupported_format", "pdf"), "PDF")
    yield bad("photos.zip", _zip("a.jpg", jpeg), "archive", 415, ("unsupported_format", "zip"), "ZIP")
    yield bad("photos.tar.gz", gzip.compress(_tar("a.jpg", jpeg)), "archive", 415, ("unsupported_format", "gzip"),
              "tar.gz")
    yield bad("photos.tar", _tar("a.jpg", jpeg), "archive", 415, NOT_RECOGNISED, "tar (no leading signature)")
    yield bad("photos.jpg.bz2", bz2.compress(jpeg), "archive", 415, ("unsupported_format", "bzip2"), "bzip2")
    yield bad("photos.jpg.xz", lzma.compress(jpeg), "archive", 415, ("unsupported_format", "xz"), "xz")
    yield bad("photos.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 100, "archive", 415,
              ("unsupported_format", "7-zip"), "7-Zip signature")
    yield bad("photos.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100, "archive", 415, ("unsupported_format", "rar"),
              "RAR signature")
    yield bad("tool", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 300, "executable", 415,
              ("unsupported_format", "executable"), "ELF")
    yield bad("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 300, "executable", 415,
              ("unsupported_format", "executable"), "Windows PE")
    yield bad("app", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 300, "executable", 415,
              ("unsupported_format", "executable"), "Mach-O")
    yield bad("run.sh.jpg", b"#!/bin/sh\nrm -rf --no-preserve-root /\n", "executable", 415,
              ("unsupported_format", "script"), "shell script named .jpg")
    yield bad("empty.jpg", b"", "empty", 400, ("empty_file", "empty"), "0 bytes")
    yield bad("too-big.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * (50 * 1024 * 1024), "oversize", 413,
              ("file_too_large", "limit"), "50 MB + 4 bytes (over ASSET_MAX_BYTES)")

    # Hostile names on hostile content: the refusal names the file without its path, nothing is written.
    yield bad("../../../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", "path traversal", 415, NOT_RECOGNISED,
              "Unix traversal, text")
    yield bad("..\\..\\Windows\\System32\\evil.exe", b"MZ\x90\x00" + b"\x00" * 200, "path traversal", 415,
              ("unsupported_format", "executable"), "Windows traversal, PE")
    yield bad("/var/www/html/shell.php.jpg", b"<?php system($_GET['c']); ?>", "path traversal", 415,
              ("unsupported_format", "xml or html"), "absolute path, PHP")
    yield bad("photo\u202egnp.exe", b"MZ" + b"\x00" * 200, "hostile name", 415, ("unsupported_format", "executable"),
              "right-to-left override hides .exe")
    # Sent as clients send it, the name alone outgrows Django's 1 KB limit on a form part's headers.
    yield bad("\u00fc" * 1000 + ".jpg", jpeg[:100], "hostile name", 400, ("file_name_too_long", "rename the file"),
              "1,000-character unicode name")
    yield bad("nul\x00byte.jpg", b"\x00" * 64, "hostile name", 415, NOT_RECOGNISED, "NUL in the name")

    # Formats Pillow reads that are not accepted, and a broken multi-picture JPEG: never a 500.
    yield bad("scan.ppm", b"P6\n4 4\n255\n" + b"\x80" * 48, "other format", 415, NOT_RECOGNISED,
              "PPM: Pillow reads it, the site does not take it")
    mpo = encode(_noise((160, 120), seed=5), "MPO", save_all=True,
                 append_images=[_noise((160, 120), seed=6)])
    yield bad("half.mpo", mpo[: len(mpo) // 3], "truncated", 400, CORRUPT, "MPO: first third of two pictures")


def _scene() -> Image.Image:
    """Three large shapes the shipped test detector finds: proof that the odd encoding was decoded right."""
    from testkit.shapes import three_shapes_scene

    return three_shapes_scene().image


def odd_valid() -> Iterator[Sample]:
    """Unusual but legitimate images: each must be accepted (201) and then tagged.

    Those with ``shapes`` in the note hold the three-shapes scene, so tagging must find its shapes.
    """

    def ok(name: str, data: bytes, category: str, size: tuple[int, int], note: str) -> Sample:
        return Sample(name, data, category, 201, note=note, size=size)

    scene = _scene()
    size = scene.size
    yield ok("one-pixel.png", encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), "1×1", (1, 1), "1×1 PNG")
    yield ok("one-pixel.jpg", encode(Image.new("RGB", (1, 1), (10, 200, 10)), "JPEG"), "1×1", (1, 1), "1×1 JPEG")
    yield ok("strip-wide.png", encode(_noise((8000, 3), seed=3), "PNG"), "long strip", (8000, 3), "8000×3")
    yield ok("strip-tall.jpg", encode(_noise((2, 6000), seed=4), "JPEG"), "long strip", (2, 6000), "2×6000")
    cmyk = scene.convert("CMYK")
    yield ok("cmyk.jpg", encode(cmyk, "JPEG", quality=92), "CMYK", size, "CMYK JPEG, shapes")
    yield ok("cmyk.tif", encode(cmyk, "TIFF"), "CMYK", size, "CMYK TIFF, shapes")
    grey = scene.convert("L")
    grey16 = Image.frombytes("I;16", size, bytes(value for pixel in grey.tobytes() for value in (pixel, pixel)))
    yield ok("grey16.png", encode(grey16, "PNG"), "16-bit", size, "16-bit greyscale PNG, shapes")
    yield ok("grey16.tif", encode(grey16, "TIFF"), "16-bit", size, "16-bit greyscale TIFF, shapes")
    palette = scene.quantize(16)
    yield ok("palette-alpha.png", encode(palette, "PNG", transparency=15), "palette + transparency", size,
             "P mode with tRNS, shapes")
    yield ok("palette-alpha.gif", encode(palette, "GIF", transparency=15), "palette + transparency", size,
             "GIF with a transparent index, shapes")
    la = Image.merge("LA", (grey, Image.new("L", size, 255)))
    yield ok("grey-alpha.png", encode(la, "PNG"), "LA", size, "greyscale + alpha, shapes")
    blank = [Image.new("RGB", size, colour) for colour in ((250, 250, 250), (10, 10, 10))]
    for fmt in ("GIF", "WEBP", "PNG"):
        data = encode(scene, fmt, save_all=True, append_images=blank, duration=80, loop=0)
        yield ok(f"animated.{EXT[fmt]}", data, "animated", size, f"3 frames {fmt}, shapes in the first")
    yield ok("photo.heic", encode(scene, "HEIF"), "HEIF", size, "HEIC, shapes")
    yield ok("DSCF0001.MPO", encode(scene, "MPO", save_all=True, append_images=[blank[0]]), "multi-picture JPEG",
             size, "MPO (stereo and multi-shot cameras): shapes in the first picture, stored as JPEG")
    big = (size[0] * 3, size[1] * 3)
    grey16_big = Image.frombytes("I;16", big, bytes(v for p in grey.resize(big).tobytes() for v in (p, p)))
    yield ok("grey16-large.png", encode(grey16_big, "PNG"), "16-bit", big,
             "16-bit greyscale PNG over 512 px (thumbnails are reduced from it), shapes")
    yield ok("../../etc/cron.d/job.jpg", encode(scene, "JPEG"), "hostile name, valid image", size,
             "traversal name, shapes: stored under originals/, name cleaned")
    yield ok("\u00e9" * 400 + ".png", encode(_noise((30, 40), seed=11), "PNG"), "hostile name, valid image",
             (30, 40), "400-character unicode name: cut to 200")


def corpus() -> list[Sample]:
    return [*hostile(), *odd_valid()]
