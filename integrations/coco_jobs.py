"""COCO imports too large for a web request: checked in the request, written by a worker.

The request checks the whole document (structure, matching, boxes, the per-asset cap) and answers
202 with the job; the worker (integrations.tasks.import_coco, on COCO_IMPORT_QUEUE) checks it again
against the assets as they are then, writes it asset by asset and records its progress.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from integrations.coco import CocoInvalid, CocoPlan, coco_plan, coco_result_json, coco_write
from integrations.models import CocoImportJob
from media.selectors import assets_visible_to

logger = logging.getLogger(__name__)

NOT_QUEUED = "The import could not be queued (the task queue is unavailable); send the document again."
INTERNAL = "The import stopped on an internal error; what was written stays. Sending the document again adds the rest."


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


def coco_job_run(*, job_id: uuid.UUID | str) -> CocoImportJob | None:
    """Run a queued job (or one a lost worker left running: what it wrote counts as duplicates now)."""
    claimed = CocoImportJob.objects.filter(
        pk=job_id, state__in=[CocoImportJob.State.QUEUED, CocoImportJob.State.RUNNING]
    ).update(state=CocoImportJob.State.RUNNING, started_at=timezone.now())
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
