"""Reads from the asset library. Every query a user can reach starts from assets_visible_to."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from media.models import Asset


def assets_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Asset]:
    """The assets ``user`` may see: their own. Anonymous users see none."""
    if not user.is_authenticated:
        return Asset.objects.none()
    return Asset.objects.filter(owner=user)


def asset_get(*, user: AbstractBaseUser | AnonymousUser, asset_id: uuid.UUID | str) -> Asset | None:
    """One visible asset, or None (also for ids that exist but belong to someone else)."""
    try:
        key = uuid.UUID(str(asset_id))
    except ValueError:
        return None
    return assets_visible_to(user).filter(pk=key).first()
