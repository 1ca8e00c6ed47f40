"""The Celery application: settings come from Django's, under the CELERY_ prefix."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

from assetsite.db_reuse import ConnectionRecycler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")

app = Celery("assetsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def keep_database_connections(**kwargs: Any) -> None:
    """Worker processes keep their database connections between tasks (WORKER_CONN_MAX_AGE seconds).

    The web's value (0 on SQLite) would make every task connect again. Runs in the main process before
    the pool forks, so every child inherits it.
    """
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE


_recycler = ConnectionRecycler()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender: Any = None, **kwargs: Any) -> None:
    """Between tasks, what Django does between requests (assetsite.db_reuse).

    Celery's own fixup would close every connection here; CELERY_DB_REUSE_MAX stops that (settings).
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    _recycler.recycle()
