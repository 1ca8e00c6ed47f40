"""Decoding is bounded: reduced decodes, no full-size copies, a pixel budget per process, slots per machine.

tests/system/test_server_limits.py measures the memory of a real gunicorn process; bench/upload_memory.py
prints the figures docs/operations.md records.
"""

from __future__ import annotations

import fcntl
import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from media import imaging
from media.decoding import PROCESS_BUDGET, DecodeBusy, DecodeLimits, decode_reservation, slot_path
from media.imaging import ImageRejected, open_and_verify, open_upright_rgb, to_8bit
from media.models import Asset
from tests.conftest import stored_files
from tests.images import exif_block, image_bytes, upload

ASSETS_URL = "/api/assets/"


def patterned(mode: str, size: tuple[int, int]) -> Image.Image:
    """Every pixel different enough that a misplaced tile or a wrong average shows."""
    width, height = size
    base = Image.linear_gradient("L").resize(size)
    rgb = Image.merge("RGB", (base, base.transpose(Image.Transpose.ROTATE_180), base.rotate(90, expand=False)))
    if mode == "P+alpha":
        image = rgb.quantize(32)
        image.info["transparency"] = 3
        return image
    if mode == "I;16":
        return base.convert("I").point(lambda value: value * 257).convert("I;16")
    if mode == "RGBA":
        return Image.merge("RGBA", (*rgb.split(), base))
    if mode == "LA":
        return Image.merge("LA", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    return rgb.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P+alpha", "I;16", "L", "LA", "1", "CMYK", "F"])
@pytest.mark.parametrize("factor", [1, 3, 7])
def test_tiled_conversion_and_reduction_equal_the_whole_image_ones(monkeypatch, mode, factor):
    monkeypatch.setattr(imaging, "_TILE", 64)  # many tiles, and edges that are not multiples of anything
    image = patterned(mode, (301, 170))
    expected = to_8bit(image, keep_alpha=True)
    if factor > 1:
        expected = expected.reduce(factor)
    got = imaging._reduced_8bit(image, factor, keep_alpha=True)
    assert got.mode == expected.mode and got.size == expected.size
    assert got.tobytes() == expected.tobytes()


def encoded(image: Image.Image, fmt: str, **options) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(("fmt", "orientation"), [("PNG", 1), ("PNG", 6), ("JPEG", 1), ("JPEG", 8), ("TIFF", 1)])
def test_the_working_image_is_reduced_and_upright_and_the_info_is_full_size(fmt, orientation):
    stored = patterned("RGB", (5000, 3000))
    source = encoded(stored, fmt, exif=exif_block(orientation=orientation).tobytes())
    info, working, _ = open_and_verify(source, max_pixels=10**8, reduce_to=1024)

    upright = (3000, 5000) if orientation in (6, 8) else (5000, 3000)
    assert (info.width, info.height) == upright
    assert 1024 <= max(working.size) < 2048 and working.mode == "RGB"
    assert (working.width > working.height) == (upright[0] > upright[1])
    source.seek(0)
    assert source.read(4) and not source.closed  # the caller's file stays open for storing it


def test_the_worker_decode_keeps_twice_the_model_size_and_no_more():
    source = encoded(patterned("RGB", (6000, 4000)), "PNG")
    image = open_upright_rgb(source, target_size=(600, 400))
    assert image.mode == "RGB" and image.size == (1200, 800)  # box-reduced by 5; the detector resizes the rest


@pytest.mark.django_db
def test_a_large_16_bit_greyscale_png_is_accepted(api_client, settings):
    """Thumbnails of a 16-bit image over 512 px used to reduce an I;16 image: 'image has wrong mode', a 500."""
    data = encoded(patterned("I;16", (2000, 1500)), "PNG").getvalue()
    response = api_client.post(ASSETS_URL, {"file": upload(data, "scan.png")}, format="multipart")
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (2000, 1500)
    assert len(stored_files(settings.MEDIA_ROOT)) == 3


# --- the budget per process and the slots per machine --------------------------------------------


def limits(tmp_path: Path, **changes) -> DecodeLimits:
    values = {"pixel_budget": 10_000_000, "heavy_pixels": 1_000_000, "heavy_slots": 1, "lock_dir": tmp_path,
              "wait_seconds": 0.3, "retry_after": 7}
    return DecodeLimits(**{**values, **changes})


def hold_slot(lock_dir: Path, index: int = 0):
    lock_dir.mkdir(parents=True, exist_ok=True)
    handle = open(slot_path(lock_dir, index), "ab")  # noqa: SIM115 - the test releases it
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def test_a_heavy_decode_waits_for_a_slot_then_gives_up_with_busy(tmp_path):
    held = hold_slot(tmp_path)
    started = time.monotonic()
    with pytest.raises(ImageRejected) as busy:
        open_and_verify(encoded(patterned("RGB", (1200, 1000)), "PNG"), max_pixels=10**8, limits=limits(tmp_path))
    assert busy.value.code == "server_busy" and busy.value.retry_after == 7
    assert "Try again" in busy.value.message and 0.25 < time.monotonic() - started < 3
    # A light decode needs no slot.
    open_and_verify(encoded(patterned("RGB", (900, 1000)), "PNG"), max_pixels=10**8, limits=limits(tmp_path))
    held.close()
    open_and_verify(encoded(patterned("RGB", (1200, 1000)), "PNG"), max_pixels=10**8, limits=limits(tmp_path))


def test_a_slot_freed_while_waiting_is_taken(tmp_path):
    held = hold_slot(tmp_path)
    threading.Timer(0.3, held.close).start()
    info, _, _ = open_and_verify(encoded(patterned("RGB", (1200, 1000)), "PNG"), max_pixels=10**8,
                                 limits=limits(tmp_path, wait_seconds=5))
    assert info.width == 1200


def test_the_kernel_frees_the_slot_of_a_process_that_died(tmp_path):
    code = ("import fcntl, os, sys, time; f = open(sys.argv[1], 'ab'); fcntl.flock(f.fileno(), fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)")
    tmp_path.mkdir(exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", code, str(slot_path(tmp_path, 0))], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DecodeBusy), decode_reservation(2_000_000, limits(tmp_path)):
            pass
        holder.kill()
        holder.wait(timeout=10)
        with decode_reservation(2_000_000, limits(tmp_path)):
            pass
    finally:
        holder.kill()


def test_the_pixel_budget_makes_a_second_decode_in_the_process_wait(tmp_path):
    budget = limits(tmp_path, pixel_budget=3_000_000, heavy_slots=0, wait_seconds=0.2)
    entered = threading.Event()
    leave = threading.Event()

    def first() -> None:
        with decode_reservation(2_000_000, budget):
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(5)
        assert PROCESS_BUDGET.in_flight == 2_000_000
        with pytest.raises(DecodeBusy, match="as many pixels"), decode_reservation(2_000_000, budget):
            pass
        with decode_reservation(1_000_000, budget):  # what still fits goes ahead
            pass
        threading.Timer(0.1, leave.set).start()
        with decode_reservation(2_000_000, limits(tmp_path, pixel_budget=3_000_000, heavy_slots=0, wait_seconds=5)):
            assert PROCESS_BUDGET.in_flight == 2_000_000  # the first one had left
    finally:
        leave.set()
        thread.join()
    assert PROCESS_BUDGET.in_flight == 0


def test_a_frame_larger_than_the_whole_budget_still_decodes_alone(tmp_path):
    with decode_reservation(50_000_000, limits(tmp_path, pixel_budget=1_000, heavy_slots=0)):
        assert PROCESS_BUDGET.in_flight == 50_000_000
    assert PROCESS_BUDGET.in_flight == 0


def test_the_budget_is_returned_when_decoding_fails(tmp_path):
    broken = image_bytes("PNG", size=(1500, 1500))[:5000]
    with pytest.raises(ImageRejected, match="corrupt"):
        open_and_verify(io.BytesIO(broken), max_pixels=10**8, limits=limits(tmp_path))
    assert PROCESS_BUDGET.in_flight == 0
    with decode_reservation(2_000_000, limits(tmp_path, wait_seconds=0)):  # and the slot
        pass


@pytest.mark.django_db
def test_busy_is_a_503_with_retry_after_on_the_api_and_the_upload_page(api_client, web_client, settings, tmp_path):
    settings.ASSET_HEAVY_DECODE_PIXELS = 1_000_000
    settings.ASSET_HEAVY_DECODE_SLOTS = 1
    settings.ASSET_DECODE_WAIT = 0.2
    settings.ASSET_DECODE_LOCK_DIR = tmp_path / "locks"
    held = hold_slot(settings.ASSET_DECODE_LOCK_DIR)
    data = image_bytes("PNG", size=(1200, 1000))
    response = api_client.post(ASSETS_URL, {"file": upload(data, "big.png")}, format="multipart")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "server_busy" and response.headers["Retry-After"] == "5"
    assert "big.png" in response.json()["detail"] and "Try again" in response.json()["detail"]
    page = web_client.post("/upload/", {"files": [upload(data, "big.png")]})
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert Asset.objects.count() == 0 and stored_files(settings.MEDIA_ROOT) == []
    held.close()
    assert api_client.post(ASSETS_URL, {"file": upload(data, "big.png")}, format="multipart").status_code == 201


def test_a_decoder_that_needs_several_buffers_counts_that_many_times(tmp_path):
    budget = limits(tmp_path, pixel_budget=10_000_000, heavy_pixels=3_000_000, heavy_slots=2)
    with decode_reservation(1_000_000, budget, weight=4):
        assert PROCESS_BUDGET.in_flight == 4_000_000
        # 4 MP of cost is heavy, and took both slots: any other heavy decode waits.
        with pytest.raises(DecodeBusy), decode_reservation(3_000_000, limits(tmp_path, heavy_slots=2)):
            pass
    with decode_reservation(1_000_000, budget, weight=1):  # the same frame from a lighter decoder: not heavy
        with decode_reservation(3_000_000, limits(tmp_path, heavy_slots=2)):
            pass


def test_a_large_webp_waits_for_every_slot(tmp_path):
    held = hold_slot(tmp_path, index=1)
    source = encoded(patterned("RGB", (1000, 1000)), "WEBP")
    settings_like = limits(tmp_path, heavy_pixels=3_000_000, heavy_slots=2)
    with pytest.raises(ImageRejected, match="already decoding 2 large"):
        open_and_verify(source, max_pixels=10**8, limits=settings_like)
    assert PROCESS_BUDGET.in_flight == 0
    held.close()
    info, _, _ = open_and_verify(encoded(patterned("RGB", (1000, 1000)), "WEBP"), max_pixels=10**8,
                                 limits=settings_like)
    assert info.format == "WEBP"
    # A PNG of the same size is not heavy at all.
    held = hold_slot(tmp_path, index=0)
    open_and_verify(encoded(patterned("RGB", (1000, 1000)), "PNG"), max_pixels=10**8, limits=settings_like)
    held.close()


def test_two_decodes_that_need_every_slot_do_not_deadlock(tmp_path):
    budget = limits(tmp_path, heavy_pixels=1, heavy_slots=3, wait_seconds=5)
    order: list[str] = []

    def decode(name: str) -> None:
        with decode_reservation(10, budget, weight=3):
            order.append(name)
            time.sleep(0.2)

    threads = [threading.Thread(target=decode, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(order) == ["a", "b", "c"]
