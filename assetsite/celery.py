"""The Celery application: settings come from Django's, under the CELERY_ prefix."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assetsite.settings")

app = Celery("assetsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def keep_database_connections(**kwargs: Any) -> None:
    """Worker processes keep their database connections between tasks (WORKER_CONN_MAX_AGE seconds).

    Celery closes a connection after each task unless CONN_MAX_AGE allows it to live; the web's value
    (0 on SQLite) would make every task connect again. Health checks replace a connection that died.
    Runs in the main process before the pool forks, so every child inherits it.
    """
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = settings.WORKER_CONN_MAX_AGE
