"""Collections of assets (the pages say Collections; the app is ``albums`` because ``collections`` is
Python's own module) and the share links that show one collection to people without an account.

A collection is manual (its members are CollectionItem rows) or smart (``query`` is a search and its
members are whatever that search finds now; ``search`` evaluates it). Trashed assets keep their rows
here and are simply not visible, so restoring puts them back where they were.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from media.models import Asset

NAME_MAX_LENGTH = 100
QUERY_MAX_LENGTH = 500  # search.syntax.MAX_QUERY_LENGTH


class Collection(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # Empty: a manual collection. Otherwise the search whose results are the members.
    query = models.CharField(max_length=QUERY_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # collection:"Name" in a search must name exactly one of the owner's collections.
            models.UniqueConstraint("owner", Lower("name"), name="collection_unique_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_smart(self) -> bool:
        return bool(self.query)


class CollectionItem(models.Model):
    """An asset placed in a manual collection by a person."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="collection_items")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection", "asset"], name="collection_item_unique")]
        # "Is this asset in that collection" from the asset's side (the search's EXISTS).
        indexes = [models.Index(fields=["asset", "collection"], name="collection_item_asset")]


class ShareLink(models.Model):
    """A link that shows one collection, read-only, to whoever holds it.

    Only a digest of the link's secret is stored (like API tokens): a database dump does not open
    shared collections. One link per collection is live at a time; making a new one revokes the old.
    """

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="share_links")
    digest = models.CharField(max_length=64, unique=True)
    allow_download = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["collection", "revoked_at"], name="share_link_collection")]

    def is_live(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
