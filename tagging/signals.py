"""Signals tagging sends, so other apps (webhooks) can react without tagging importing them."""

from django.dispatch import Signal

# Sent after the commit that set an asset's tagging status to "tagged" or "failed", with
# ``asset_id`` (UUID), ``status`` (str) and ``owner_id`` (int). Receivers run in the web or worker process that made
# the change and should only enqueue work.
asset_tagging_finished = Signal()
