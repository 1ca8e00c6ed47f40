"""Celery tasks for integrations. They take ids and call services.

Webhook deliveries run on their own queue (settings.WEBHOOK_QUEUE, "webhooks", routed in
CELERY_TASK_ROUTES) with a worker of its own, so waiting for someone's slow server never holds up
detection. Large COCO imports run on settings.COCO_IMPORT_QUEUE (the default queue unless set).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="integrations.tasks.deliver_webhook",
    acks_late=True,
    ignore_result=True,
    # Resolving plus connecting plus reading, each bounded by the timeout, with room to record the result.
    soft_time_limit=int(settings.WEBHOOK_TIMEOUT * 3) + 10,
    time_limit=int(settings.WEBHOOK_TIMEOUT * 3) + 20,
)
def deliver_webhook(delivery_pk: int) -> str:
    """One attempt of one delivery; a failure schedules the next attempt as a new task with a countdown."""
    from integrations.services import delivery_attempt

    delivery = delivery_attempt(delivery_pk=delivery_pk)
    return delivery.state if delivery is not None else "gone"


@shared_task(name="integrations.tasks.sweep_webhook_deliveries", ignore_result=True)
def sweep_webhook_deliveries() -> dict[str, int]:
    """Re-send deliveries lost to a broker outage or a dead worker (run by celery beat)."""
    from integrations.services import deliveries_sweep

    result = deliveries_sweep()
    return {"requeued": result.requeued, "interrupted": result.interrupted}


@shared_task(
    bind=True,
    name="integrations.tasks.import_coco",  # routed to COCO_IMPORT_QUEUE (CELERY_TASK_ROUTES)
    acks_late=True,
    ignore_result=True,
    soft_time_limit=settings.COCO_IMPORT_TIME_LIMIT,
    time_limit=settings.COCO_IMPORT_TIME_LIMIT + 60,
)
def import_coco(self, job_id: str) -> str:  # type: ignore[no-untyped-def]
    """Write a COCO import job's document (integrations.coco_jobs); a redelivered job resumes safely."""
    from integrations.coco_jobs import coco_job_run

    job = coco_job_run(job_id=job_id, task_id=self.request.id or "")
    return job.state if job is not None else "not queued"


@shared_task(name="integrations.tasks.sweep_coco_imports", ignore_result=True)
def sweep_coco_imports() -> dict[str, int]:
    """Re-send COCO import jobs whose message was lost; end the ones whose worker died (celery beat)."""
    from integrations.coco_jobs import coco_jobs_sweep

    result = coco_jobs_sweep()
    return {"resent": result.resent, "stopped": result.stopped}
