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
from django.db import transaction
from django.utils import timezone

from media.models import Asset
from tagging import lanes, result_writer
from tagging.label_counts import label_counts_compact
from tagging.models import BulkRequest
from tagging.month_counts import month_counts_zone_follow
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
            asset_id=asset_id, task_id=self.request.id or "", model=model, worker=self.request.hostname or "",
            write_behind=result_writer.enabled(self.request),
        )
    except TransientError as error:
        released_send(error.released)
        countdown = min(5 * 2 ** self.request.retries, 300)
        logger.warning("tagging %s interrupted (%s); retrying in %d s", asset_id, error, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
    for outcome in outcomes:
        logger.info("tagging %s: %s %s", outcome.asset_id, outcome.status, outcome.detail)
    return [{"asset": o.asset_id, "status": o.status, "detail": o.detail} for o in outcomes]


def released_send(released: Sequence[uuid.UUID]) -> None:
    """Assets batched with an interrupted one and handed back: fresh ones go on the queue again by
    themselves; bulk ones wait for a token in their owner's line."""
    if not released:
        return
    in_bulk = set(BulkRequest.objects.filter(asset_id__in=released).values_list("asset_id", flat=True))
    tagging_enqueue(asset_ids=[pk for pk in released if pk not in in_bulk])
    if in_bulk:
        bulk_feed()


@shared_task(
    bind=True,
    name="tagging.tasks.tag_next",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.TAGGING_SOFT_TIME_LIMIT,
    time_limit=settings.TAGGING_TIME_LIMIT,
    max_retries=settings.TAGGING_MAX_ATTEMPTS + 3,
    ignore_result=True,
)
def tag_next(self, token: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """A bulk-lane token: tag what is due now (a fresh asset still waiting, else the next user's
    bulk asset), give the token back and send the tokens the remaining bulk work needs."""
    from tagging.pipeline import TransientError, run_detection  # torch: worker processes only

    outcomes: list[dict[str, str]] = []
    tried: list[uuid.UUID] = []
    write_behind = result_writer.enabled(self.request)
    try:
        # Another worker may claim the picked asset first: then the next one is due.
        while len(tried) < 5:
            job = lanes.next_job(skip=tried)
            if job is None:
                break
            tried.append(job.asset_id)
            done = run_detection(
                asset_id=str(job.asset_id), task_id=self.request.id or "", model=job.model,
                worker=self.request.hostname or "", write_behind=write_behind,
            )
            outcomes += [{"asset": o.asset_id, "status": o.status, "detail": o.detail, "lane": job.lane} for o in done]
            if any(o.asset_id == str(job.asset_id) and o.status != "skipped" for o in done):
                break
    except TransientError as error:
        released_send(error.released)
        if self.request.retries < self.max_retries:
            countdown = min(5 * 2 ** self.request.retries, 300)
            logger.warning("bulk token interrupted (%s); retrying in %d s", error, countdown)
            raise self.retry(exc=error, countdown=countdown) from error
        logger.warning("bulk token interrupted (%s); the sweeper feeds the lane again", error)
    except BaseException:
        lanes.token_release(token=token)  # a crash must not hold a place in the lane
        raise
    for outcome in outcomes:
        logger.info("tagging %s (%s lane): %s %s", outcome["asset"], outcome["lane"], outcome["status"],
                    outcome["detail"])
    lanes.token_release(token=token)
    bulk_feed()
    return outcomes


def bulk_feed() -> int:
    """Send the bulk-lane tokens still missing (at most ``TAGGING_BULK_IN_FLIGHT``); how many were sent.

    Runs after each token, after a bulk request commits and from the sweeper. A broker that is down
    is logged; the sweeper feeds again later.
    """
    with transaction.atomic():
        tokens = lanes.tokens_reserve()
    sent = 0
    for token in tokens:
        try:
            tag_next.apply_async(args=[str(token)], queue=settings.TAGGING_BULK_QUEUE)
        except Exception as error:  # kombu raises several types when the broker is unreachable
            logger.warning("could not send a bulk tagging token (broker down?): %s", error)
            for unsent in tokens[sent:]:
                lanes.token_release(token=unsent)
            break
        sent += 1
    return sent


def bulk_retag(*, asset_ids: Sequence[uuid.UUID | str], model: str = "") -> int:
    """Re-tag in the bulk lane (after fresh uploads, users taking turns); how many now wait there.

    Call inside the caller's transaction or outside one: tokens are sent once it commits.
    """
    with transaction.atomic():
        count = lanes.bulk_add(asset_ids=asset_ids, model=model)
        transaction.on_commit(bulk_feed, robust=True)
    return count


def tagging_enqueue(*, asset_ids: Sequence[uuid.UUID | str], model: str = "") -> int:
    """Put detection tasks on the fresh lane's queue; return how many were sent.

    An asset waiting in the bulk lane moves here (its bulk request is dropped; whichever message
    claims it first tags it, once). A broker that is down is logged, not raised: the asset stays
    pending with no enqueue time, and the sweeper sends it once the broker is back.
    """
    lanes.bulk_forget(asset_ids=asset_ids)
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
    tokens: int = 0  # bulk-lane tokens sent


def tagging_sweep(*, now: datetime | None = None, limit: int = 1000) -> SweepResult:
    """Re-send assets that were lost on the way: never queued, queued long ago, or stuck processing."""
    stale = stale_assets_collect(now=now, limit=limit)
    requeued = tagging_enqueue(asset_ids=stale.to_send) if stale.to_send else 0
    lanes.tokens_expire(now=now)
    return SweepResult(requeued=requeued, failed=stale.failed, tokens=bulk_feed())


@shared_task(name="tagging.tasks.sweep_stale_assets", ignore_result=True)
def sweep_stale_assets() -> dict[str, int]:
    """Re-send uploads that never reached the queue or whose worker died; fail ones that keep dying."""
    result = tagging_sweep()
    label_counts_compact()  # the facet and month summaries' deltas, folded (tagging/label_counts.py)
    month_counts_zone_follow()  # recounts the timeline's months if TIME_ZONE changed
    if result.requeued or result.failed:
        logger.info("sweeper: re-sent %d assets, failed %d", result.requeued, result.failed)
    return {"requeued": result.requeued, "failed": result.failed}
