"""Periodic work on the asset library: purging the trash, sweeping stored files of no asset.
Tasks take ids (or nothing) and call services."""

from __future__ import annotations

import logging

from celery import shared_task

from media.services import storage_orphans_sweep, trash_purge

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
