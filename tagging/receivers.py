"""Hooks into media and the Celery worker."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_ready
from django.db import transaction
from django.dispatch import receiver

from media.models import Asset, TaggingStatus
from media.signals import asset_created, asset_restored
from tagging import result_writer
from tagging.services import tagging_reset
from tagging.tasks import sweep_stale_assets, tagging_enqueue

logger = logging.getLogger(__name__)


@receiver(asset_created, sender=Asset, dispatch_uid="tagging.enqueue_new_asset")
def enqueue_new_asset(sender: type[Asset], asset: Asset, **kwargs: Any) -> None:
    asset_id = asset.pk
    # Only once the row is committed can a worker see it.
    transaction.on_commit(lambda: tagging_enqueue(asset_ids=[asset_id]), robust=True)


@receiver(asset_restored, sender=Asset, dispatch_uid="tagging.requeue_restored_asset")
def requeue_restored_asset(sender: type[Asset], asset: Asset, **kwargs: Any) -> None:
    """Workers do not claim trashed assets: one trashed before its tagging finished is queued again."""
    if asset.tagging_status not in (TaggingStatus.PENDING, TaggingStatus.PROCESSING):
        return
    asset_id = asset.pk
    tagging_reset(assets=Asset.objects.filter(pk=asset_id))
    transaction.on_commit(lambda: tagging_enqueue(asset_ids=[asset_id]), robust=True)


@worker_init.connect
def remember_concurrency(sender: Any = None, **kwargs: Any) -> None:
    # Children inherit the environment; they size torch's thread pool from it.
    concurrency = getattr(sender, "concurrency", None)
    if concurrency:
        os.environ["TAGGING_WORKER_CONCURRENCY"] = str(concurrency)
    # A worker started for other queues only (-Q webhooks) never detects: its children skip loading the model.
    from django.conf import settings

    consumed = getattr(getattr(getattr(sender, "app", None), "amqp", None), "queues", None)
    selected = getattr(consumed, "consume_from", None)
    if selected and not {settings.TAGGING_QUEUE, settings.TAGGING_BULK_QUEUE} & set(selected):
        os.environ["TAGGING_WORKER_SKIP_MODEL"] = "1"


@worker_process_init.connect
def load_detector_after_fork(**kwargs: Any) -> None:
    """Warm the model in each child process, after fork, so the first task does not pay for it."""
    from tagging.detector import DetectorError  # torch: only worker processes load it
    from tagging.model_cache import get_detector

    if os.environ.get("TAGGING_WORKER_SKIP_MODEL") == "1":
        return
    try:
        get_detector()
    except DetectorError as error:
        # The worker keeps running; tasks fail with this message until the weights are fixed.
        logger.error("detector not loaded: %s", error)


@worker_process_shutdown.connect
def finish_written_behind(**kwargs: Any) -> None:
    """A pool process that exits (warm shutdown, max tasks per child) writes its last result first."""
    result_writer.flush()


@worker_ready.connect
def sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that starts after an outage picks up what was left pending or stuck."""
    try:
        sweep_stale_assets.apply_async(countdown=5)
    except Exception as error:  # broker trouble at start-up is logged, not fatal
        logger.warning("could not schedule the start-up sweep: %s", error)
