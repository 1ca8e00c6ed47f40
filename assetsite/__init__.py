# Importing the Celery app here makes @shared_task use it in every process Django runs.
from assetsite.celery import app as celery_app

__all__ = ["celery_app"]
