"""``bench/search.py --while-tagging``: time the searches while a real Celery worker tags images.

A worker process (testkit/worker_process.py, shapes detector, ``-c 1``) starts on the benchmark
database and broker; a backlog of distinct shapes images is uploaded through the real upload service
for the user ``bench_uploader`` (so the searched library stays the same as in the idle run); once the
worker is tagging, the searches are timed again. The worker's throughput during the timed window is
printed from the assets' ``tagged_at`` and the runs' ``duration_ms``.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
UPLOADER = "bench_uploader"


def while_tagging(timed: Callable[[], T], *, images: int) -> T:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import Sum

    from media.models import Asset, TaggingStatus
    from media.services import asset_create
    from tagging.models import DetectionRun
    from testkit.shapes import scenes
    from testkit.worker_process import celery_worker, purge_queues

    user, _ = get_user_model().objects.get_or_create(username=UPLOADER)
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    print(f"\n--- while tagging: broker {settings.CELERY_BROKER_URL.split('://')[0]}, worker -c 1, shapes detector",
          flush=True)  # fmt: skip
    purge_queues()
    with celery_worker(media_root) as worker:
        started = time.monotonic()
        ids = []
        for number, scene in enumerate(scenes(random.randrange(1 << 30), images)):
            buffer = io.BytesIO()
            scene.image.save(buffer, "PNG")
            upload = SimpleUploadedFile(f"shapes-{number:05d}.png", buffer.getvalue(), content_type="image/png")
            ids.append(asset_create(owner=user, file=upload).asset.pk)
        print(f"uploaded {len(ids)} images for {UPLOADER} in {time.monotonic() - started:.0f} s", flush=True)
        backlog = Asset.objects.filter(pk__in=ids)
        deadline = time.monotonic() + 120
        while backlog.filter(tagging_status=TaggingStatus.TAGGED).count() < 3:
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker tagged nothing in 120 s:\n{worker.log}")
            time.sleep(0.5)
        window_start = datetime.now(UTC)
        before = backlog.filter(tagging_status=TaggingStatus.TAGGED).count()
        result = timed()
        window_end = datetime.now(UTC)
        tagged = backlog.filter(tagging_status=TaggingStatus.TAGGED).count() - before
        waiting = backlog.exclude(tagging_status__in=(TaggingStatus.TAGGED, TaggingStatus.FAILED)).count()
        seconds = (window_end - window_start).total_seconds()
        detector_ms = DetectionRun.objects.filter(
            asset_id__in=ids, started_at__gte=window_start, started_at__lt=window_end
        ).aggregate(total=Sum("duration_ms"))["total"] or 0
    purge_queues()
    print(
        f"\nworker during the timed run: {tagged} images in {seconds:.0f} s = {tagged / max(seconds, 1e-9):.2f} img/s,"
        f" detector busy {detector_ms / 1000 / max(seconds, 1e-9):.0%} of the time;"
        f" {waiting} still waiting at the end" + ("" if waiting else " (BACKLOG RAN OUT: raise --tagging-images)"),
        flush=True,
    )
    return result
