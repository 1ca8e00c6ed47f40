"""Work on the asset library in the worker: purging the trash, sweeping stored files of no asset,
web-playable proxies of videos. Tasks take ids (or nothing) and call services."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from assetsite.storage import STORAGE_ERRORS
from media.selectors import video_proxies_missing
from media.services import storage_orphans_sweep, trash_purge, video_proxy_create, video_proxy_failed
from media.video import VideoRejected

logger = logging.getLogger(__name__)


@shared_task(name="media.tasks.purge_trash", ignore_result=True)
def purge_trash() -> dict[str, int]:
    """Delete for good (rows, files, renditions) what has been in the trash longer than TRASH_DAYS."""
    purged = trash_purge()
    if purged:
        logger.info("trash: deleted %d assets for good (in the trash longer than TRASH_DAYS)", purged)
    return {"purged": purged}


@shared_task(name="media.tasks.sweep_storage_orphans", ignore_result=True)
def sweep_storage_orphans() -> dict[str, int]:
    """Delete stored files with no asset row, older than STORAGE_ORPHAN_GRACE_HOURS (left by outages)."""
    deleted = storage_orphans_sweep()
    if deleted:
        logger.info("storage: deleted %d files of no asset (older than STORAGE_ORPHAN_GRACE_HOURS)", deleted)
    return {"deleted": deleted}


@shared_task(
    name="media.tasks.make_video_proxy",
    bind=True,
    acks_late=True,
    max_retries=3,
    soft_time_limit=settings.VIDEO_PROXY_TIME_LIMIT,
    time_limit=settings.VIDEO_PROXY_TIME_LIMIT + 60,
)
def make_video_proxy(self, asset_id: str) -> str:  # type: ignore[no-untyped-def]
    """Transcode a web-playable proxy of a video browsers cannot play as uploaded (media/video_proxy.py)."""
    try:
        outcome = video_proxy_create(asset_id=asset_id)
    except VideoRejected as rejected:
        # The page keeps offering the original for download; retrying would fail the same way.
        logger.warning("video proxy of %s not made: %s", asset_id, rejected.message)
        video_proxy_failed(asset_id=asset_id, message=rejected.message)
        return "failed"
    except STORAGE_ERRORS as error:
        raise self.retry(exc=error, countdown=30) from error
    logger.info("video proxy of %s: %s", asset_id, outcome)
    return outcome


def video_proxy_enqueue(*, asset_id: uuid.UUID | str) -> bool:
    """Send the proxy task to the default queue; False (logged) when the broker cannot take it: a re-tag
    sends it again."""
    try:
        make_video_proxy.apply_async(args=[str(asset_id)], queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception as error:  # broker down: the video plays where the browser can, or downloads
        logger.warning("could not enqueue the video proxy of %s: %s", asset_id, error)
        return False
    return True


@shared_task(name="media.tasks.sweep_video_proxies", ignore_result=True)
def sweep_video_proxies(limit: int = 100) -> dict[str, int]:
    """Send the proxy task again for tagged videos still without one (lost task, or tagged before
    proxies existed: older libraries fill in ``limit`` videos per sweep)."""
    # Past the task's time limit (and retries) since tagging: a first try would have finished by now.
    grace = timedelta(seconds=make_video_proxy.time_limit + settings.VIDEO_PROXY_SWEEP_GRACE)
    sent = 0
    for asset_id in video_proxies_missing(tagged_before=timezone.now() - grace, limit=limit):
        if not video_proxy_enqueue(asset_id=asset_id):
            break  # the broker is down: the next sweep tries again
        sent += 1
    if sent:
        logger.info("video proxies: sent %d again", sent)
    return {"sent": sent}
