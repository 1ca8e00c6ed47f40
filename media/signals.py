"""Signals other apps listen to, so media never imports them."""

from django.dispatch import Signal

# Sent inside the creating transaction with ``asset``; receivers defer work with transaction.on_commit.
asset_created = Signal()
