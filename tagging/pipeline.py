"""One detection task, step by step: claim, read, decode, detect, write.

Kept apart from the Celery task so the benchmark runs exactly the code the worker runs.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from PIL import Image

from assetsite.storage import OBJECT_STORE_ERRORS
from media.imaging import open_upright_rgb
from media.models import Asset, AssetKind
from media.services import video_proxy_wanted
from media.tasks import video_proxy_enqueue
from tagging import result_writer, services
from tagging.boxes import DetectedObject
from tagging.detector import Detector, DetectorError
from tagging.model_cache import batch_size_for, get_detector
from tagging.video_pipeline import run_video

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """Worth retrying later: the database, the broker or the storage was briefly unreachable,
    or the task hit its soft time limit (which counts as an attempt).

    ``released`` lists other assets this run had claimed for its batch and gave back to pending:
    the task sends each of them again.
    """

    def __init__(self, message: str, *, released: Sequence[uuid.UUID] = ()) -> None:
        super().__init__(message)
        self.released = list(released)


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    SoftTimeLimitExceeded,
    *OBJECT_STORE_ERRORS,  # the bucket unreachable or refusing (a missing key is FileNotFoundError)
)


@dataclass(frozen=True)
class Outcome:
    asset_id: str
    status: str  # tagged, failed, skipped
    detail: str = ""


def _decode(asset: Asset, detector: Detector) -> Image.Image:
    with default_storage.open(asset.file.name, "rb") as handle:
        return open_upright_rgb(handle, target_size=detector.input_size_for(asset.width, asset.height))


def _run_info(
    detector: Detector, *, task_id: str, worker: str, batch: int, started: datetime, duration_ms: int
) -> services.RunInfo:
    config = detector.config
    return services.RunInfo(
        model_name=detector.model_name,
        weights=detector.weights_identity,
        device=str(detector.device),
        score_threshold=config.score_threshold,
        label_thresholds=dict(config.label_thresholds),
        max_detections=config.max_detections,
        min_box_size=config.min_box_size,
        batch_size=batch,
        started_at=started,
        duration_ms=duration_ms,
        task_id=task_id,
        worker=worker,
    )


def _hand_back(
    assets: list[Asset], *, primary_id: uuid.UUID | None, task_id: str, error: BaseException
) -> list[uuid.UUID]:
    """After a transient error: put unfinished claims back to pending; the task retry covers the primary.

    Returns the other assets given back, which need sending again.
    """
    message = f"Interrupted ({type(error).__name__}: {error}); will retry."
    try:
        return [
            asset.pk
            for asset in assets
            if services.tagging_release(asset_id=asset.pk, task_id=task_id, error=message) and asset.pk != primary_id
        ]
    except TRANSIENT_ERRORS:
        # The database is down too: the claims stay "processing" and the sweeper frees them later.
        logger.warning("could not hand back %d claimed assets", len(assets))
        return []


def _results_write(
    assets: list[Asset], found: list[list[DetectedObject]], *, info: services.RunInfo, written: set[uuid.UUID]
) -> list[Outcome]:
    """Store each asset's detections; ``written`` gains each asset as it is stored (the rest, after an
    error, are the caller's to hand back or fail)."""
    outcomes = []
    for asset, objects in zip(assets, found, strict=True):
        run = services.detections_replace(asset_id=asset.pk, objects=objects, info=info)
        written.add(asset.pk)
        outcomes.append(Outcome(str(asset.pk), "tagged" if run else "skipped", f"{len(objects)} objects"))
    return outcomes


def _results_write_behind(assets: list[Asset], found: list[list[DetectedObject]], *, info: services.RunInfo) -> None:
    """Hand the forward pass's results to the writer thread; errors there end as they would here."""
    from tagging.tasks import released_send  # the task module imports this one lazily

    def write() -> None:
        written: set[uuid.UUID] = set()
        try:
            for outcome in _results_write(assets, found, info=info, written=written):
                logger.info("tagging %s: %s %s (written behind)", outcome.asset_id, outcome.status, outcome.detail)
        except TRANSIENT_ERRORS as error:
            # The task was acknowledged already: what is handed back goes on the queue again here.
            unwritten = [asset for asset in assets if asset.pk not in written]
            released_send(_hand_back(unwritten, primary_id=None, task_id=info.task_id, error=error))
        except Exception as error:
            logger.exception("writing detections failed for %s", [str(a.pk) for a in assets])
            message = f"Saving the detections failed ({type(error).__name__}: {str(error)[:500]})."
            for asset in assets:
                if asset.pk not in written:
                    services.tagging_fail(asset_id=asset.pk, error=message, task_id=info.task_id, info=info)

    result_writer.submit(write, asset_ids=[asset.pk for asset in assets])


def _run_video(asset: Asset, detector: Detector, *, info: services.RunInfo) -> Outcome:
    """A video, alone: sampled, detected, tracked (tagging.video_pipeline); errors as for images."""
    from tagging.tasks import tagging_enqueue  # the task module imports this one lazily

    try:
        status, detail = run_video(
            asset=asset, detector=detector, info=info,
            on_continue=lambda asset_id: tagging_enqueue(asset_ids=[asset_id]),
        )
    except TRANSIENT_ERRORS as error:
        # The checkpoint saved so far stays: the retry resumes from it.
        _hand_back([asset], primary_id=asset.pk, task_id=info.task_id, error=error)
        raise TransientError(f"{type(error).__name__}: {error}") from error
    except Exception as error:
        logger.exception("video detection failed for %s", asset.pk)
        status = "failed"
        detail = f"Detection failed ({type(error).__name__}: {str(error)[:500]}). Retry with `retag` after fixing."
        services.tagging_fail(asset_id=asset.pk, error=detail, task_id=info.task_id, info=info)
    if status == "tagged" and video_proxy_wanted(asset):
        # Its own task on the default queue: transcoding must not hold up the detection lanes.
        video_proxy_enqueue(asset_id=asset.pk)
    return Outcome(str(asset.pk), status, detail)


def run_detection(
    *, asset_id: str, task_id: str, model: str = "", worker: str = "", write_behind: bool = False
) -> list[Outcome]:
    """Tag ``asset_id`` (and, on a GPU, other waiting assets in the same forward pass).

    With ``write_behind`` the result is written in the background (tagging.result_writer) and the
    outcome says "writing"; the next image's detection runs meanwhile.
    Raises TransientError when a retry may succeed; every other problem ends the asset ``failed``
    with a message for people.
    """
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        return [Outcome(str(asset_id), "skipped", "not an asset id")]
    try:
        primary = services.tagging_claim(asset_id=key, task_id=task_id)
        if primary is None:
            current = Asset.objects.filter(pk=key).values_list("tagging_status", flat=True).first()
            return [Outcome(str(key), "skipped", "asset deleted" if current is None else f"already {current}")]
        if primary.tagging_attempts > settings.TAGGING_MAX_ATTEMPTS:
            message = services.give_up_message(primary.tagging_attempts - 1)
            services.tagging_fail(asset_id=key, error=message, task_id=task_id)
            return [Outcome(str(key), "failed", "too many attempts")]
    except TRANSIENT_ERRORS as error:
        raise TransientError(f"{type(error).__name__}: {error}") from error

    try:
        detector = get_detector(model)
    except Exception as error:
        # Missing weights or a broken checkpoint: retrying will not help until an operator acts.
        message = str(error) if isinstance(error, DetectorError) else (
            f"The detector could not be loaded ({type(error).__name__}: {str(error)[:500]})."
        )
        logger.error("detector %r not loaded: %s", model or settings.TAGGING_MODEL, message)
        info = services.RunInfo(model_name=model or settings.TAGGING_MODEL or "default", task_id=task_id, worker=worker)
        services.tagging_fail(asset_id=key, error=message, task_id=task_id, info=info)
        return [Outcome(str(key), "failed", message)]

    failure_info = _run_info(
        detector, task_id=task_id, worker=worker, batch=1, started=timezone.now(), duration_ms=0
    )
    if primary.kind == AssetKind.VIDEO:
        return [_run_video(primary, detector, info=failure_info)]
    claimed = [primary]
    finished: set[uuid.UUID] = set()
    outcomes: list[Outcome] = []
    try:
        if not model and primary.tagging_attempts == 1:
            claimed += services.tagging_claim_batch(task_id=task_id, limit=batch_size_for(detector) - 1, exclude=key)
        started_at = timezone.now()
        started = time.monotonic()
        images: list[Image.Image] = []
        decoded: list[Asset] = []
        for asset in claimed:
            try:
                images.append(_decode(asset, detector))
                decoded.append(asset)
            except FileNotFoundError:
                message = "The original file is missing from storage. Upload the image again."
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                if isinstance(error, TRANSIENT_ERRORS):
                    raise
                message = f"The stored image could not be decoded ({error}). Upload it again."
            else:
                continue
            services.tagging_fail(asset_id=asset.pk, error=message, task_id=task_id, info=failure_info)
            finished.add(asset.pk)
            outcomes.append(Outcome(str(asset.pk), "failed", message))
        if decoded:
            result_writer.forward_pass_starting()
            found = detector.detect(images, original_sizes=[(asset.width, asset.height) for asset in decoded])
            info = _run_info(
                detector,
                task_id=task_id,
                worker=worker,
                batch=len(decoded),
                started=started_at,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
            if write_behind:
                _results_write_behind(decoded, found, info=info)
                finished.update(asset.pk for asset in decoded)
                outcomes += [
                    Outcome(str(asset.pk), "writing", f"{len(objects)} objects")
                    for asset, objects in zip(decoded, found, strict=True)
                ]
            else:
                outcomes += _results_write(decoded, found, info=info, written=finished)
        for image in images:
            image.close()
    except TRANSIENT_ERRORS as error:
        unfinished = [asset for asset in claimed if asset.pk not in finished]
        released = _hand_back(unfinished, primary_id=key, task_id=task_id, error=error)
        raise TransientError(f"{type(error).__name__}: {error}", released=released) from error
    except Exception as error:
        # Deterministic failures (a model error on this input, say) would fail again: stop here.
        logger.exception("detection failed for %s", [str(a.pk) for a in claimed])
        message = f"Detection failed ({type(error).__name__}: {str(error)[:500]}). Retry with `retag` after fixing."
        for asset in claimed:
            if asset.pk not in finished:
                services.tagging_fail(asset_id=asset.pk, error=message, task_id=task_id, info=failure_info)
                outcomes.append(Outcome(str(asset.pk), "failed", message))
    return outcomes
