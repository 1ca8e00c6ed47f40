"""Periodic work on the asset library: purging the trash. Tasks take ids (or nothing) and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from media.services import trash_purge

logger = logging.getLogger(__name__)


@shared_task(name="media.tasks.purge_trash", ignore_result=True)
def purge_trash() -> dict[str, int]:
    """Delete for good (rows, files, renditions) what has been in the trash longer than TRASH_DAYS."""
    purged = trash_purge()
    if purged:
        logger.info("trash: deleted %d assets for good (in the trash longer than TRASH_DAYS)", purged)
    return {"purged": purged}
