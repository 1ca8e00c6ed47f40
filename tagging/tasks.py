"""Celery tasks for detection and how they are sent. Tasks take ids and call the pipeline and services.

The pipeline (and with it torch) is imported inside the task body: web processes import this module to
send tasks and must not load torch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from media.models import Asset
from tagging.label_counts import label_counts_compact
from tagging.services import stale_assets_collect

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="tagging.tasks.detect_objects",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.TAGGING_SOFT_TIME_LIMIT,
    time_limit=settings.TAGGING_TIME_LIMIT,
    max_retries=settings.TAGGING_MAX_ATTEMPTS + 3,
    ignore_result=True,
)
def detect_objects(self, asset_id: str, model: str = "") -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Find the objects in one asset's image and store them; safe to run twice."""
    from tagging.pipeline import TransientError, run_detection  # torch: worker processes only

    try:
        outcomes = run_detection(
            asset_id=asset_id, task_id=self.request.id or "", model=model, worker=self.request.hostname or ""
        )
    except TransientError as error:
        if error.released:
            # Assets batched with this one and handed back: each goes on the queue again by itself.
            tagging_enqueue(asset_ids=error.released)
        countdown = min(5 * 2 ** self.request.retries, 300)
        logger.warning("tagging %s interrupted (%s); retrying in %d s", asset_id, error, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
    for outcome in outcomes:
        logger.info("tagging %s: %s %s", outcome.asset_id, outcome.status, outcome.detail)
    return [{"asset": o.asset_id, "status": o.status, "detail": o.detail} for o in outcomes]


def tagging_enqueue(*, asset_ids: Sequence[uuid.UUID | str], model: str = "") -> int:
    """Put detection tasks on the queue; return how many were sent.

    A broker that is down is logged, not raised: the asset stays pending with no enqueue time,
    and the sweeper sends it once the broker is back.
    """
    sent: list[uuid.UUID | str] = []
    for asset_id in asset_ids:
        kwargs = {"model": model} if model else {}
        try:
            detect_objects.apply_async(args=[str(asset_id)], kwargs=kwargs, queue=settings.TAGGING_QUEUE)
        except Exception as error:  # kombu raises several types when the broker is unreachable
            logger.warning("could not enqueue tagging of %s (broker down?): %s", asset_id, error)
            break
        sent.append(asset_id)
    if sent:
        Asset.objects.filter(pk__in=sent).update(tagging_enqueued_at=timezone.now())
    return len(sent)


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    failed: int


def tagging_sweep(*, now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Re-send assets that were lost on the way: never queued, queued long ago, or stuck processing."""
    stale = stale_assets_collect(now=now, limit=limit)
    requeued = tagging_enqueue(asset_ids=stale.to_send) if stale.to_send else 0
    return SweepResult(requeued=requeued, failed=stale.failed)


@shared_task(name="tagging.tasks.sweep_stale_assets", ignore_result=True)
def sweep_stale_assets() -> dict[str, int]:
    """Re-send uploads that never reached the queue or whose worker died; fail ones that keep dying."""
    result = tagging_sweep()
    label_counts_compact()  # the facet summary's deltas, folded (tagging/label_counts.py)
    if result.requeued or result.failed:
        logger.info("sweeper: re-sent %d assets, failed %d", result.requeued, result.failed)
    return {"requeued": result.requeued, "failed": result.failed}
