"""Celery tasks. They take ids and call the pipeline and services; torch is imported only in workers."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

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
    from tagging.pipeline import TransientError, run_detection

    try:
        outcomes = run_detection(
            asset_id=asset_id, task_id=self.request.id or "", model=model, worker=self.request.hostname or ""
        )
    except TransientError as error:
        countdown = min(5 * 2 ** self.request.retries, 300)
        logger.warning("tagging %s interrupted (%s); retrying in %d s", asset_id, error, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
    for outcome in outcomes:
        logger.info("tagging %s: %s %s", outcome.asset_id, outcome.status, outcome.detail)
    return [{"asset": o.asset_id, "status": o.status, "detail": o.detail} for o in outcomes]


@shared_task(name="tagging.tasks.sweep_stale_assets", ignore_result=True)
def sweep_stale_assets() -> dict[str, int]:
    """Re-send uploads that never reached the queue or whose worker died; fail ones that keep dying."""
    from tagging.services import tagging_sweep

    result = tagging_sweep()
    if result.requeued or result.failed:
        logger.info("sweeper: re-sent %d assets, failed %d", result.requeued, result.failed)
    return {"requeued": result.requeued, "failed": result.failed}
