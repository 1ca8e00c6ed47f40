"""Writes to the asset library. Every upload, from the web form or the API, goes through asset_create."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from assetsite.api_errors import RETRY_AFTER_SECONDS
from assetsite.storage import STORAGE_ERRORS, STORAGE_UNAVAILABLE
from media.imaging import ImageRejected, derived_exif, make_thumbnails, open_and_verify
from media.limits import decode_limits
from media.models import Asset, AssetKind
from media.renditions import renditions_delete
from media.signals import asset_created, asset_restored
from media.uploads import byte_limit
from media.video import VideoLimits, VideoRejected, is_video, probe_video
from media.video_frames import poster_frame
from media.video_proxy import make_proxy, needs_proxy, proxy_format

logger = logging.getLogger(__name__)


class AssetRejected(Exception):
    """An upload was refused. ``code`` is stable for clients, ``message`` is for people."""

    def __init__(
        self, code: str, message: str, *, status: int = 400, filename: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.filename = filename
        self.retry_after = retry_after  # seconds, when the refusal is only "not now" (503)


@dataclass(frozen=True)
class UploadResult:
    asset: Asset
    created: bool
    restored: bool = False  # the same content was in the owner's trash and is back in the library


def clean_filename(name: str | None) -> str:
    """The uploaded name, for display only: no directories, no control characters, bounded length."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base or "upload"


def _sha256(source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    for chunk in iter(lambda: source.read(1 << 20), b""):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _file_size(source: IO[bytes]) -> int:
    size = getattr(source, "size", None)
    if isinstance(size, int):
        return size
    position = source.tell()
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(position)
    return size


def _head(source: IO[bytes]) -> bytes:
    source.seek(0)
    head = source.read(64)
    source.seek(0)
    return head


@dataclass(frozen=True)
class _Content:
    """What an upload turned out to be, with its thumbnails made."""

    kind: str
    format: str
    mime_type: str
    extension: str
    width: int
    height: int
    thumbnails: dict[str, bytes]
    taken_at: datetime | None = None
    taken_offset: int | None = None
    camera: str = ""
    duration: float | None = None
    fps: float | None = None
    video_codec: str = ""


_REJECTION_STATUS = {"unsupported_format": 415, "too_many_pixels": 413, "too_many_frames": 413, "server_busy": 503}


def _inspect_image(file: IO[bytes], display_name: str) -> _Content:
    try:
        # Decoded only as large as the biggest thumbnail needs; the full-size frame never outlives the
        # decoder and counts against the decode budget while it exists.
        info, working, exif = open_and_verify(
            file,
            max_pixels=settings.ASSET_MAX_PIXELS,
            max_frames=settings.ASSET_MAX_FRAMES,
            max_animation_pixels=settings.ASSET_MAX_ANIMATION_PIXELS,
            reduce_to=max(settings.ASSET_THUMBNAIL_SIZES.values()),
            limits=decode_limits(),
        )
    except ImageRejected as rejection:
        raise AssetRejected(
            rejection.code,
            f"{display_name}: {rejection.message}",
            status=_REJECTION_STATUS.get(rejection.code, 400),
            filename=display_name,
            retry_after=rejection.retry_after,
        ) from None
    thumb_exif = derived_exif(exif, strip_gps=settings.ASSET_STRIP_GPS)
    thumbnails = make_thumbnails(working, settings.ASSET_THUMBNAIL_SIZES, exif=thumb_exif)
    working.close()
    return _Content(
        kind=AssetKind.IMAGE,
        format=info.format,
        mime_type=info.mime_type,
        extension=info.extension,
        width=info.width,
        height=info.height,
        thumbnails=thumbnails,
        taken_at=info.taken_at,
        taken_offset=info.taken_offset,
        camera=info.camera,
    )


def _inspect_video(file: IO[bytes], display_name: str) -> _Content:
    """Probe the container (first frame and last packets only), then a poster frame for the thumbnails."""
    limits = VideoLimits(
        max_pixels=settings.VIDEO_MAX_PIXELS, max_seconds=settings.VIDEO_MAX_SECONDS, max_fps=settings.VIDEO_MAX_FPS
    )
    try:
        info = probe_video(file, limits=limits)
        poster = poster_frame(
            file,
            duration=info.duration,
            max_pixels=limits.max_pixels,
            max_side=max(settings.ASSET_THUMBNAIL_SIZES.values()),
        )
    except VideoRejected as rejection:
        raise AssetRejected(rejection.code, f"{display_name}: {rejection.message}", status=rejection.status,
                            filename=display_name) from None
    thumbnails = make_thumbnails(poster, settings.ASSET_THUMBNAIL_SIZES)
    poster.close()
    return _Content(
        kind=AssetKind.VIDEO,
        format=info.format,
        mime_type=info.mime_type,
        extension=info.extension,
        width=info.width,
        height=info.height,
        thumbnails=thumbnails,
        taken_at=info.taken_at,
        taken_offset=info.taken_offset,
        camera=info.camera,
        duration=info.duration,
        fps=info.fps,
        video_codec=info.codec,
    )


def _delete_quietly(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # cleanup must not hide the original error
            logger.exception("could not delete %s after a failed upload", name)


def _renditions_delete_quietly(asset_id: uuid.UUID) -> None:
    try:
        renditions_delete(asset_id=asset_id)
    except Exception:  # cleanup must not fail a deletion that happened
        logger.exception("could not delete the renditions of %s", asset_id)


def asset_create(*, owner: AbstractBaseUser, file: IO[bytes], filename: str | None = None) -> UploadResult:
    """Validate, store and record an uploaded image or video for ``owner``.

    The content decides which it is (never the name): a file that starts like an MP4/MOV/WebM/MKV
    container is probed as a video, with the VIDEO_* limits; anything else must be an image within
    ASSET_MAX_BYTES. The file is read in chunks (hash, probe, copy to storage) and never held whole
    in memory; large uploads arrive as Django temporary files.

    The same content uploaded again by the same owner returns the existing asset; if that asset is
    in the trash it is restored (tags, reviews and collections included) rather than refused as a
    duplicate. A refusal raises AssetRejected and leaves nothing behind, in storage or in the database.
    """
    display_name = clean_filename(filename if filename is not None else getattr(file, "name", None))
    size = _file_size(file)
    if size == 0:
        raise AssetRejected("empty_file", f"{display_name} is empty.", filename=display_name)
    head = _head(file)
    limit, applies_to = byte_limit(head)
    if size > limit:
        raise AssetRejected(
            "file_too_large",
            f"{display_name} is {size / 1e6:,.1f} MB; the limit is {limit / 1e6:,.1f} MB for {applies_to}.",
            status=413,
            filename=display_name,
        )
    sha256 = _sha256(file)
    existing = _existing(owner, sha256)
    if existing is not None:
        return existing
    content = _inspect_video(file, display_name) if is_video(head) else _inspect_image(file, display_name)
    thumbnails = content.thumbnails

    asset = Asset(
        owner=owner,
        original_filename=display_name,
        sha256=sha256,
        kind=content.kind,
        format=content.format,
        mime_type=content.mime_type,
        width=content.width,
        height=content.height,
        duration=content.duration,
        fps=content.fps,
        video_codec=content.video_codec,
        byte_size=size,
        taken_at=content.taken_at,
        taken_offset=content.taken_offset,
        camera=content.camera,
    )
    shard = asset.id.hex[:2]
    saved: list[str] = []
    try:
        file.seek(0)
        asset.file.name = default_storage.save(f"originals/{shard}/{asset.id.hex}.{content.extension}", File(file))
        saved.append(asset.file.name)
        asset.thumbnail_small.name = default_storage.save(
            f"thumbnails/{shard}/{asset.id.hex}-small.webp", ContentFile(thumbnails["small"])
        )
        saved.append(asset.thumbnail_small.name)
        asset.thumbnail_large.name = default_storage.save(
            f"thumbnails/{shard}/{asset.id.hex}-large.webp", ContentFile(thumbnails["large"])
        )
        saved.append(asset.thumbnail_large.name)
    except STORAGE_ERRORS as error:
        # No row is written; what did get stored is deleted now, or by the orphan sweep if the store is gone.
        logger.warning("upload of %s refused: the file store failed (%s: %s)", display_name, type(error).__name__,
                       str(error)[:200])
        _delete_quietly(saved)
        raise AssetRejected("storage_unavailable", f"{display_name}: {STORAGE_UNAVAILABLE}", status=503,
                            filename=display_name, retry_after=RETRY_AFTER_SECONDS) from None
    except BaseException:
        _delete_quietly(saved)
        raise
    try:
        with transaction.atomic():
            asset.save(force_insert=True)
            asset_created.send(sender=Asset, asset=asset)
    except IntegrityError:
        # The same content arrived twice at once; the other request won.
        _delete_quietly(saved)
        winner = _existing(owner, sha256)
        if winner is None:
            raise
        return winner
    except BaseException:
        _delete_quietly(saved)
        raise
    return UploadResult(asset=asset, created=True)


def _existing(owner: AbstractBaseUser, sha256: str) -> UploadResult | None:
    """The owner's asset with this content (restored if it was in the trash), or None."""
    existing = Asset.all_objects.filter(owner=owner, sha256=sha256).first()
    if existing is None:
        return None
    if existing.trashed_at is None:
        return UploadResult(asset=existing, created=False)
    return UploadResult(asset=asset_restore(asset=existing), created=False, restored=True)


def asset_update(*, asset: Asset, title: str | None = None, favorite: bool | None = None) -> Asset:
    fields = []
    if title is not None:
        asset.title = title.strip()[:255]
        fields.append("title")
    if favorite is not None:
        asset.favorite = favorite
        fields.append("favorite")
    if fields:
        asset.save(update_fields=[*fields, "updated_at"])
    return asset


# --- the trash ------------------------------------------------------------------------------------
# Trashing only stamps trashed_at: files, thumbnails, renditions, detections, reviews and collection
# places all stay, so restoring gives back exactly what was there. Only asset_delete (from the trash,
# or the purge past TRASH_DAYS) removes anything.


def assets_trash(*, assets: QuerySet[Asset]) -> int:
    """Move ``assets`` (visible ones) to the trash; how many moved."""
    now = timezone.now()
    return Asset.objects.filter(pk__in=assets.order_by().values("pk")).update(trashed_at=now, updated_at=now)


def asset_trash(*, asset: Asset) -> Asset:
    assets_trash(assets=Asset.objects.filter(pk=asset.pk))
    asset.refresh_from_db(fields=["trashed_at", "updated_at"])
    return asset


def asset_restore(*, asset: Asset) -> Asset:
    """Bring a trashed asset back into the library, as it was when it was trashed."""
    with transaction.atomic():
        restored = Asset.all_objects.filter(pk=asset.pk, trashed_at__isnull=False).update(
            trashed_at=None, updated_at=timezone.now()
        )
        asset.refresh_from_db()
        if restored:
            asset_restored.send(sender=Asset, asset=asset)
    return asset


def trash_purge(*, now: datetime | None = None, limit: int = 500) -> int:
    """Delete for good what has been in the trash longer than TRASH_DAYS (the periodic sweep); how many."""
    from media.selectors import trash_expired  # selectors read, services write; both are media's

    expired = list(trash_expired(now=now or timezone.now())[:limit])
    for asset in expired:
        asset_delete(asset=asset)
    return len(expired)


def trash_empty(*, assets: QuerySet[Asset]) -> int:
    """Delete these trashed assets for good (files too, once committed); how many."""
    count = 0
    for asset in assets.filter(trashed_at__isnull=False).iterator(chunk_size=200):
        asset_delete(asset=asset)
        count += 1
    return count


def asset_delete(*, asset: Asset) -> None:
    """Delete the row (and everything hanging off it), then its files once the deletion commits.

    For good: the API and pages move assets to the trash instead; this is emptying the trash.
    """
    names = [
        name
        for name in (asset.file.name, asset.thumbnail_small.name, asset.thumbnail_large.name, asset.video_proxy.name)
        if name
    ]
    asset_id = asset.pk  # delete() clears it
    with transaction.atomic():
        asset.delete()
        transaction.on_commit(lambda: _delete_quietly(names))
        transaction.on_commit(lambda: _renditions_delete_quietly(asset_id))


def storage_orphans_sweep(*, now: datetime | None = None, limit: int = 10_000) -> int:
    """Delete stored files of assets that have no row, once older than STORAGE_ORPHAN_GRACE_HOURS; how many.

    Such files are left when the store or the database failed between writing a file and its row (or
    between deleting a row and its files) and the cleanup could not reach the store. Younger files are
    kept: they may belong to an upload still in progress, whose row is written after its files.
    """
    from media.selectors import asset_ids_existing
    from media.storage_io import stored_files

    cutoff = (now or timezone.now()) - timedelta(hours=settings.STORAGE_ORPHAN_GRACE_HOURS)
    deleted = 0
    for prefix in ("originals", "thumbnails", "renditions", "proxies"):
        batch: list[tuple[str, uuid.UUID]] = []
        for stored in stored_files(prefix):
            if stored.modified is not None and stored.modified > cutoff:
                continue
            asset_id = _asset_id_of(stored.name)
            if asset_id is not None:
                batch.append((stored.name, asset_id))
            if len(batch) >= 500:
                deleted += _delete_orphans(batch, asset_ids_existing)
                batch = []
            if deleted >= limit:
                return deleted
        deleted += _delete_orphans(batch, asset_ids_existing)
    return deleted


def _asset_id_of(name: str) -> uuid.UUID | None:
    # originals/ab/<hex>.jpg, thumbnails/ab/<hex>-small.webp, renditions/ab/<hex>/<digest>.jpg,
    # proxies/ab/<hex>.mp4
    parts = name.split("/")
    if len(parts) < 3:
        return None
    try:
        return uuid.UUID(hex=parts[2][:32])
    except ValueError:
        return None


def _delete_orphans(batch: list[tuple[str, uuid.UUID]], existing: Callable[..., set[uuid.UUID]]) -> int:
    if not batch:
        return 0
    kept = existing(asset_ids={asset_id for _, asset_id in batch})
    orphans = [name for name, asset_id in batch if asset_id not in kept]
    for name in orphans:
        logger.info("storage: deleting %s, a file of no asset", name)
        default_storage.delete(name)
    return len(orphans)


def video_proxy_wanted(asset: Asset) -> bool:
    """A video that browsers may not play as uploaded, without a proxy yet (nor a failed try)."""
    return (
        asset.kind == AssetKind.VIDEO
        and not asset.video_proxy.name
        and not asset.video_proxy_error
        and needs_proxy(container=asset.format, codec=asset.video_codec)
    )


def video_proxy_failed(*, asset_id: uuid.UUID | str, message: str) -> None:
    """Remember that this original cannot be made web-playable, so the sweeper does not try it again."""
    Asset.all_objects.filter(pk=asset_id, video_proxy="").update(video_proxy_error=message[:2000] or "failed")


def video_proxy_create(*, asset_id: uuid.UUID | str) -> str:
    """Make and store the web-playable proxy of a video (media/video_proxy.py); what happened, in a word.

    ``made``, or ``not needed`` (an image, a web-playable video, one that has a proxy already, or an
    asset deleted meanwhile: then the stored proxy is deleted again). Raises VideoRejected when the
    original cannot be decoded, and the storage's errors (the task retries those).
    """
    from media.stored import stored_file_seekable

    asset = Asset.all_objects.filter(pk=asset_id).first()
    if asset is None or not video_proxy_wanted(asset):
        return "not needed"
    fmt = proxy_format()
    folder = settings.VAR_DIR / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix="proxy-") as work:
        local = os.path.join(work, f"proxy.{fmt.extension}")
        with stored_file_seekable(asset.file.name) as source:
            make_proxy(source, local, max_side=settings.VIDEO_PROXY_MAX_SIDE, max_pixels=settings.VIDEO_MAX_PIXELS)
        with open(local, "rb") as encoded:
            name = default_storage.save(f"proxies/{asset.id.hex[:2]}/{asset.id.hex}.{fmt.extension}", File(encoded))
    # Only if the row is still there and has none: a deleted asset or a second run leaves no stray file.
    if not Asset.all_objects.filter(pk=asset.pk, video_proxy="").update(video_proxy=name):
        _delete_quietly([name])
        return "not needed"
    return "made"
