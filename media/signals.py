"""Signals other apps listen to, so media never imports them."""

from django.dispatch import Signal

# Sent inside the creating transaction with ``asset``; receivers defer work with transaction.on_commit.
asset_created = Signal()

# Sent inside the restoring transaction with ``asset`` (back from the trash, or uploaded again while in it):
# tagging queues it again if its tagging never finished.
asset_restored = Signal()
