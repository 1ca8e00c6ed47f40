"""COCO imports too large for a web request: checked in the request, written by a worker.

The request checks the whole document (structure, matching, boxes, the per-asset cap) and answers
202 with the job; the worker (integrations.tasks.import_coco, on COCO_IMPORT_QUEUE) checks it again
against the assets as they are then, writes it asset by asset and records its progress.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.coco import CocoInvalid, CocoPlan, coco_plan, coco_result_json, coco_write
from integrations.models import CocoImportJob
from media.selectors import assets_visible_to

logger = logging.getLogger(__name__)

NOT_QUEUED = "The import could not be queued (the task queue is unavailable); send the document again."
INTERNAL = "The import stopped on an internal error; what was written stays. Sending the document again adds the rest."
STOPPED = (
    "The import stopped: its worker died or it ran past COCO_IMPORT_TIME_LIMIT. What was written stays; "
    "sending the document again adds the rest."
)


def coco_job_create(*, owner: AbstractBaseUser, document: Any, plan: CocoPlan) -> CocoImportJob:
    """A queued job for a document ``plan`` came from; the worker is told once the job is committed."""
    job = CocoImportJob.objects.create(
        owner=owner,
        annotations=plan.annotations,
        to_write=sum(len(items) for _, items in plan.planned),
        document=document,
    )

    def send() -> None:
        from integrations.tasks import import_coco

        try:
            import_coco.apply_async(args=[str(job.pk)])
        except Exception as error:  # kombu raises several types when the broker is unreachable
            logger.warning("could not enqueue COCO import %s (broker down?): %s", job.pk, error)
            _finish(job.pk, state=CocoImportJob.State.FAILED, error=NOT_QUEUED, error_code="not_queued")

    transaction.on_commit(send, robust=True)
    return job


def _finish(job_id: uuid.UUID | str, **fields: Any) -> None:
    CocoImportJob.objects.filter(pk=job_id).update(document=None, finished_at=timezone.now(), **fields)


def _run_deadline(now: datetime) -> datetime:
    """A job started before this has outlived the task's hard time limit: nobody runs it any more."""
    from integrations.tasks import import_coco

    return now - timedelta(seconds=import_coco.time_limit + settings.COCO_IMPORT_SWEEP_GRACE)


def coco_job_run(*, job_id: uuid.UUID | str, task_id: str = "") -> CocoImportJob | None:
    """Run a queued job, or resume one a lost worker left running (what it wrote counts as duplicates).

    Only the job's own message, delivered again after its worker died (same ``task_id``), resumes it,
    and only within the time limit counted from its first start: a document that kills every worker
    stops there (the sweeper ends it). A second message (the sweeper re-sends a job whose first one
    waits in a long queue) leaves a running job alone.
    """
    now = timezone.now()
    resumable = Q(state=CocoImportJob.State.RUNNING, task_id=task_id, started_at__gte=_run_deadline(now))
    claimed = (
        CocoImportJob.objects.filter(pk=job_id)
        .filter(Q(state=CocoImportJob.State.QUEUED) | resumable)
        .update(state=CocoImportJob.State.RUNNING, started_at=Coalesce(F("started_at"), now), task_id=task_id)
    )
    if not claimed:
        return None
    job = CocoImportJob.objects.select_related("owner").get(pk=job_id)

    def progress(written: int) -> None:
        CocoImportJob.objects.filter(pk=job_id).update(progress=written)

    try:
        plan = coco_plan(
            assets=assets_visible_to(job.owner),
            document=job.document,
            max_annotations=settings.COCO_IMPORT_MAX_ANNOTATIONS,
            max_boxes_per_asset=settings.COCO_IMPORT_MAX_BOXES_PER_ASSET,
        )
        CocoImportJob.objects.filter(pk=job_id).update(to_write=sum(len(items) for _, items in plan.planned))
        result = coco_write(plan=plan, progress=progress)
    except CocoInvalid as error:  # the assets changed since the request checked it
        _finish(job_id, state=CocoImportJob.State.FAILED, error=str(error), error_code=error.code)
    except Exception:
        logger.exception("COCO import %s failed", job_id)
        _finish(job_id, state=CocoImportJob.State.FAILED, error=INTERNAL, error_code="internal_error")
    else:
        _finish(job_id, state=CocoImportJob.State.DONE, result=coco_result_json(result))
    return CocoImportJob.objects.get(pk=job_id)


@dataclass(frozen=True)
class CocoSweep:
    resent: int
    stopped: int


def coco_jobs_sweep(*, now: datetime | None = None, limit: int = 100) -> CocoSweep:
    """Send again the queued jobs whose message was lost (broker restarted, queue purged) and end the
    running ones nobody runs any more (their worker died or hit the time limit) with a message saying
    what to do. Not run again: a document that killed its worker would kill the next one too.
    """
    from integrations.tasks import import_coco

    now = now or timezone.now()
    grace = timedelta(seconds=settings.COCO_IMPORT_SWEEP_GRACE)
    stale = CocoImportJob.objects.filter(state=CocoImportJob.State.RUNNING, started_at__lt=_run_deadline(now))
    stopped = 0
    for job_id in stale.values_list("pk", flat=True)[:limit]:
        stopped += CocoImportJob.objects.filter(pk=job_id, state=CocoImportJob.State.RUNNING).update(
            state=CocoImportJob.State.FAILED, error=STOPPED, error_code="stopped", document=None, finished_at=now
        )
    resent = 0
    waiting = CocoImportJob.objects.filter(state=CocoImportJob.State.QUEUED, created_at__lt=now - grace)
    for job_id in waiting.order_by("created_at").values_list("pk", flat=True)[:limit]:
        try:
            import_coco.apply_async(args=[str(job_id)])
        except Exception as error:  # the broker is still down: the next sweep tries again
            logger.warning("could not send COCO import %s again: %s", job_id, error)
            break
        resent += 1
    if resent or stopped:
        logger.info("COCO imports: sent %d again, ended %d that stopped", resent, stopped)
    return CocoSweep(resent=resent, stopped=stopped)
