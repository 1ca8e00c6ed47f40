"""Listens to tagging's signals; tagging never imports integrations."""

from __future__ import annotations

import uuid
from typing import Any

from django.dispatch import receiver

from tagging.signals import asset_tagging_finished


@receiver(asset_tagging_finished, dispatch_uid="integrations.webhooks_on_tagging_finished")
def webhooks_on_tagging_finished(
    sender: Any, asset_id: uuid.UUID, status: str, owner_id: int | None = None, **kwargs: Any
) -> None:
    from integrations.services import webhook_event_emit

    webhook_event_emit(asset_id=asset_id, status=status, owner_id=owner_id)
