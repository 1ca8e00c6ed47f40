"""Every route × every method it serves × {anonymous, owner, other user, staff} → the expected status.

The routes come from walking the URL configuration, not from a hand-kept list: a route that is
not in TABLE below fails ``test_every_route_is_in_the_table`` with the statuses it answers today,
so nobody can add a route and forget to decide who may use it.

Each request targets the owner's objects (asset, detection, webhook, ...). For everyone but the
owner the test also checks that nothing of the owner's changed, and on list pages that nothing of
the owner's shows (the owner's response must show it, so the check can fail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from albums.models import Collection, CollectionItem, ShareLink
from albums.services import collection_add, collection_create, share_link_create
from integrations.models import ApiToken, CocoImportJob, Webhook, WebhookDelivery
from integrations.services import token_create
from media.models import Asset
from media.services import asset_create, asset_trash
from review.services import detection_add_manual
from tagging.boxes import Box
from tagging.models import AssetTag, Detection, DetectionRun, Label, Track
from tests.factories import UserFactory
from tests.images import image_bytes, upload

ROLES = ("anonymous", "owner", "other", "staff")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# Strings only the owner's data contains: they must show to the owner and to nobody else.
OWNER_FILENAME = "owner-only-7f3a.png"
OWNER_LABEL = "owner-only-label"
OWNER_HOOK = "https://hooks.example.com/owner-only-hook"
OWNER_TOKEN = "owner-only-token-5c1e"
OWNER_COLLECTION = "owner-only-collection-93b2"
OWNER_TRASHED = "owner-only-trashed-4d0a.png"


# --- walking the URL configuration -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", "+ [format]" for DRF's format-suffix twin, the pattern when unnamed
    pattern: str  # the full pattern, as ResolverMatch.route spells it
    methods: tuple[str, ...]


def _methods(callback: Any) -> tuple[str, ...]:
    """The HTTP methods a view answers (besides HEAD and OPTIONS), from the view itself."""
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    allowed = {m.upper() for m in getattr(view_class, "http_method_names", ["get", "post", "put", "patch", "delete"])}
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: the router's method → action map
        found = {method.upper() for method in actions}
    elif view_class is not None:
        found = {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)}
    else:
        found = {"GET"}  # a function view: GET is what it is for
    return tuple(m for m in ("GET", *UNSAFE) if m in found & allowed)


def _join(prefix: str, part: str) -> str:
    # As Django joins nested patterns into ResolverMatch.route: an inner regex loses its "^".
    return prefix + (part[1:] if prefix and part.startswith("^") else part)


def walk(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
            yield from walk(entry.url_patterns, _join(prefix, str(entry.pattern)), inner or "")
            continue
        assert isinstance(entry, URLPattern)
        pattern = _join(prefix, str(entry.pattern))
        if entry.name:
            key = f"{namespace}:{entry.name}" if namespace else entry.name
            if "(?P<format>" in str(entry.pattern) or "<drf_format_suffix:format>" in str(entry.pattern):
                key += " [format]"
        else:
            key = pattern
        yield Route(key=key, pattern=pattern, methods=_methods(entry.callback))


ROUTES = {route.key: route for route in walk()}


# --- the expectations --------------------------------------------------------------------------

S = tuple[int | None, int | None, int | None, int | None]  # anonymous, owner, other, staff; None: not sent


@dataclass(frozen=True)
class Row:
    url: str  # with {placeholders} for the owner's objects
    expect: dict[str, S]
    scoped: bool = False  # a list: the owner sees the owner's data, others see none of it
    body: dict[str, Any] = field(default_factory=dict)  # for unsafe methods (JSON under /api/, else a form)
    login_redirect: bool = True  # a 302 for anonymous goes to the login page


PAGE_OBJECT = (302, 200, 404, 404)  # login first; then only the owner
API_OBJECT = (401, 200, 404, 404)
ADMIN = (302, 302, 302, 200)  # staff only; everyone else is sent to the admin login

TABLE: dict[str, Row] = {
    # --- pages ---
    "library": Row("/", {"GET": (302, 200, 200, 200)}, scoped=True),
    "upload": Row("/upload/", {"GET": (302, 200, 200, 200), "POST": (302, 400, 400, 400)}),
    "asset-detail": Row("/assets/{asset}/", {"GET": PAGE_OBJECT}),
    "asset-file": Row("/assets/{asset}/original/", {"GET": PAGE_OBJECT}),
    "asset-proxy": Row("/assets/{asset}/proxy/", {"GET": PAGE_OBJECT}),
    "asset-thumbnail": Row("/assets/{asset}/thumbnail/small/", {"GET": PAGE_OBJECT}),
    # Review pages (forms; each answers with a redirect back to the page it came from).
    "asset-retag": Row("/assets/{asset}/retag/", {"POST": (302, 302, 404, 404)}),
    "detection-add": Row("/assets/{asset}/detections/new/", {"POST": (302, 302, 404, 404)}, body={"label": "added"}),
    "detection-review": Row("/assets/{asset}/detections/{detection}/review/", {"POST": (302, 302, 404, 404)},
                            body={"action": "relabel", "label": "changed"}),
    "detection-crop": Row("/assets/{asset}/detections/{detection}/crop/", {"GET": PAGE_OBJECT}),
    # Ids that are not the user's are skipped with a message: a redirect for everyone, the owner's untouched.
    "asset-bulk": Row("/assets/bulk/", {"POST": (302, 302, 302, 302)},
                      body={"action": "add_tag", "label": "bulk-added", "ids": ["{asset}"]}),
    # Scoped through the label suggestions (the owner's only detection is manual, so never queued).
    "review-queue": Row("/review/", {"GET": (302, 200, 200, 200)}, scoped=True),
    # Each user creates a token of their own; the owner's must stay as they are, and show to nobody else.
    "integrations-token": Row("/integrations/token/", {"GET": (302, 200, 200, 200), "POST": (302, 200, 200, 200)},
                              body={"action": "create", "name": "matrix"}, scoped=True),
    "integrations-webhooks": Row("/integrations/webhooks/", {"GET": (302, 200, 200, 200),
                                                             "POST": (302, 400, 400, 400)}, scoped=True),
    "integrations-webhook-detail": Row("/integrations/webhooks/{webhook}/",
                                       {"GET": PAGE_OBJECT, "POST": (302, 200, 404, 404)},
                                       body={"action": "rotate_secret"}),
    # Hearts, the trash, collections and zips (forms answer with a redirect back; another user's thing: 404).
    "asset-favorite": Row("/assets/{asset}/favorite/", {"POST": (302, 302, 404, 404)}, body={"favorite": "1"}),
    "asset-trash": Row("/assets/{asset}/trash/", {"POST": (302, 302, 404, 404)}),
    "download": Row("/download/", {"POST": (302, 200, 302, 302)}, body={"ids": ["{asset}"]}),
    "collections": Row("/collections/", {"GET": (302, 200, 200, 200), "POST": (302, 302, 302, 302)},
                       body={"name": "matrix"}, scoped=True),
    # Others' ids are skipped (their own new collection "matrix" stays empty); the owner's untouched.
    "collection-add": Row("/collections/add/", {"POST": (302, 302, 302, 302)},
                          body={"ids": ["{asset}"], "collection_name": "matrix"}),
    "collection-detail": Row("/collections/{collection}/", {"GET": PAGE_OBJECT, "POST": (302, 302, 404, 404)},
                             body={"name": "renamed"}),
    "collection-remove": Row("/collections/{collection}/remove/", {"POST": (302, 302, 404, 404)},
                             body={"ids": ["{asset}"]}),
    "collection-share": Row("/collections/{collection}/share/", {"POST": (302, 200, 404, 404)},
                            body={"action": "create"}),
    "collection-delete": Row("/collections/{collection}/delete/", {"GET": PAGE_OBJECT,
                                                                   "POST": (302, 302, 404, 404)}),
    "trash": Row("/trash/", {"GET": (302, 200, 200, 200)}, scoped=True),
    "trash-empty": Row("/trash/empty/", {"GET": (302, 200, 200, 200), "POST": (302, 302, 302, 302)}),
    "trash-restore": Row("/trash/{trashed}/restore/", {"POST": (302, 302, 404, 404)}),
    "trash-delete": Row("/trash/{trashed}/delete/", {"POST": (302, 302, 404, 404)}),
    "trash-thumbnail": Row("/trash/{trashed}/thumbnail/small/", {"GET": PAGE_OBJECT}),
    # A share link is the way in, for anyone holding it (the owner's collection only; downloads were not
    # allowed for this one). Unknown, revoked and expired keys: tests/library/test_sharing.py.
    "share": Row("/s/{share_key}/", {"GET": (200, 200, 200, 200)}),
    "share-asset": Row("/s/{share_key}/assets/{asset}/", {"GET": (200, 200, 200, 200)}),
    "share-thumbnail": Row("/s/{share_key}/assets/{asset}/thumbnail/small/", {"GET": (200, 200, 200, 200)}),
    "share-original": Row("/s/{share_key}/assets/{asset}/original/", {"GET": (404, 404, 404, 404)}),
    "share-download": Row("/s/{share_key}/download/", {"GET": (404, 404, 404, 404)}),
    # --- accounts ---
    # Django's form views answer PUT like POST.
    "login": Row("/accounts/login/", {"GET": (200, 200, 200, 200), "POST": (200, 200, 200, 200),
                                      "PUT": (200, 200, 200, 200)}),
    "logout": Row("/accounts/logout/", {"POST": (302, 302, 302, 302)}),
    "password_change": Row("/accounts/password_change/", {"GET": (302, 200, 200, 200),
                                                          "POST": (302, 200, 200, 200), "PUT": (302, 200, 200, 200)}),
    "password_change_done": Row("/accounts/password_change/done/", {"GET": (302, 200, 200, 200)}),
    "password_reset": Row("/accounts/password_reset/", {"GET": (200, 200, 200, 200), "POST": (200, 200, 200, 200),
                                                        "PUT": (200, 200, 200, 200)}),
    "password_reset_done": Row("/accounts/password_reset/done/", {"GET": (200, 200, 200, 200)}),
    # A valid link moves its token into the session (302). Logging in invalidates the owner's reset
    # token (last_login changes), so the owner, who logs in here, sees the "invalid link" page.
    "password_reset_confirm": Row("/accounts/reset/{uidb64}/{reset_token}/", {
        "GET": (302, 200, 302, 302), "POST": (302, 200, 302, 302), "PUT": (302, 200, 302, 302)}),
    "password_reset_complete": Row("/accounts/reset/done/", {"GET": (200, 200, 200, 200)}),
    # --- admin (the per-model routes are added by _admin_rows) ---
    "admin:index": Row("/admin/", {"GET": ADMIN}),
    "admin:login": Row("/admin/login/", {"GET": (200, 200, 200, 302)}),
    # Logging out takes a POST; a GET sends non-staff to the admin index (and from there to its login).
    "admin:logout": Row("/admin/logout/", {"GET": (302, 302, 302, 405)}, login_redirect=False),
    "admin:password_change": Row("/admin/password_change/", {"GET": ADMIN}),
    "admin:password_change_done": Row("/admin/password_change/done/", {"GET": ADMIN}),
    "admin:autocomplete": Row("/admin/autocomplete/", {"GET": (302, 302, 302, 403)}),
    "admin:jsi18n": Row("/admin/jsi18n/", {"GET": ADMIN}),
    # Assets have no public URL (get_absolute_url): nothing to redirect staff to.
    "admin:view_on_site": Row("/admin/r/{asset_ct}/{asset}/", {"GET": (302, 302, 302, 404)}),
    "admin:auth_user_password_change": Row("/admin/auth/user/{owner_id}/password/", {"GET": ADMIN}),
    "admin:app_list": Row("/admin/media/", {"GET": ADMIN}),
    "admin/(?P<url>.*)$": Row("/admin/no-such-page/", {"GET": (302, 302, 302, 404)}),
    # --- API ---
    "api:api-root": Row("/api/", {"GET": (401, 200, 200, 200)}),
    "api:api-root [format]": Row("/api/.json", {"GET": (401, 200, 200, 200)}),
    "api:asset-list": Row("/api/assets/", {"GET": (401, 200, 200, 200), "POST": (401, 400, 400, 400)}, scoped=True),
    "api:asset-list [format]": Row("/api/assets.json", {"GET": (401, 200, 200, 200), "POST": (401, 400, 400, 400)},
                                   scoped=True),
    "api:asset-detail": Row("/api/assets/{asset}/", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                    "DELETE": (401, 204, 404, 404)}, body={"title": "changed"}),
    "api:asset-detail [format]": Row("/api/assets/{asset}.json", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                                 "DELETE": (401, 204, 404, 404)},
                                     body={"title": "changed"}),
    "api:asset-bulk": Row("/api/assets/bulk/", {"POST": (401, 200, 200, 200)},
                          body={"action": "add_tag", "label": "bulk-added", "ids": ["{asset}"]}),
    "api:asset-retag": Row("/api/assets/{asset}/retag/", {"POST": (401, 202, 404, 404)}),
    "api:asset-retag [format]": Row("/api/assets/{asset}/retag.json", {"POST": (401, 202, 404, 404)}),
    "api:asset-detections": Row("/api/assets/{asset}/detections/", {"GET": API_OBJECT,
                                                                   "POST": (401, 201, 404, 404)},
                                body={"label": "added"}),
    "api:asset-original": Row("/api/assets/{asset}/original/", {"GET": API_OBJECT}),
    "api:asset-proxy": Row("/api/assets/{asset}/proxy/", {"GET": API_OBJECT}),
    "api:asset-thumbnail": Row("/api/assets/{asset}/thumbnail/small/", {"GET": API_OBJECT}),
    "api:asset-rendition": Row("/api/assets/{asset}/rendition/?width=32", {"GET": API_OBJECT}),
    "api:asset-signed-url": Row("/api/assets/{asset}/signed-urls/", {"POST": (401, 201, 404, 404)},
                                body={"file": "original"}),
    "api:detection-crop": Row("/api/detections/{detection}/crop/", {"GET": API_OBJECT}),
    "api:asset-tracks": Row("/api/assets/{asset}/tracks/", {"GET": API_OBJECT}),
    "api:track-detail": Row("/api/tracks/{track}/", {"GET": API_OBJECT, "PATCH": API_OBJECT},
                            body={"review": "rejected"}),
    "api:detection-detail": Row("/api/detections/{detection}/", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                                "DELETE": (401, 204, 404, 404)},
                                body={"review": "rejected"}),
    # Collections, the trash and zips: another user's collection or trashed asset is a 404; lists and
    # "empty the trash" are each user's own.
    "api:asset-download": Row("/api/assets/download/", {"POST": (401, 200, 400, 400)}, body={"ids": ["{asset}"]}),
    "api:collection-list": Row("/api/collections/", {"GET": (401, 200, 200, 200), "POST": (401, 201, 201, 201)},
                               body={"name": "matrix"}, scoped=True),
    "api:collection-list [format]": Row("/api/collections.json", {"GET": (401, 200, 200, 200),
                                                                 "POST": (401, 201, 201, 201)},
                                        body={"name": "matrix"}, scoped=True),
    "api:collection-detail": Row("/api/collections/{collection}/", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                                   "DELETE": (401, 204, 404, 404)},
                                 body={"name": "changed"}),
    "api:collection-detail [format]": Row("/api/collections/{collection}.json", {
        "GET": API_OBJECT, "PATCH": API_OBJECT, "DELETE": (401, 204, 404, 404)}, body={"name": "changed"}),
    "api:collection-assets": Row("/api/collections/{collection}/assets/", {"POST": (401, 200, 404, 404),
                                                                           "DELETE": (401, 200, 404, 404)},
                                 body={"ids": ["{asset}"]}),
    "api:collection-share": Row("/api/collections/{collection}/share/", {"POST": (401, 201, 404, 404),
                                                                         "DELETE": (401, 204, 404, 404)}),
    "api:trash": Row("/api/trash/", {"GET": (401, 200, 200, 200), "DELETE": (401, 200, 200, 200)}, scoped=True),
    "api:trash-item": Row("/api/trash/{trashed}/", {"DELETE": (401, 204, 404, 404)}),
    "api:trash-restore": Row("/api/trash/{trashed}/restore/", {"POST": (401, 200, 404, 404)}),
    "api:coco-export": Row("/api/export/coco/", {"GET": (401, 200, 200, 200)}, scoped=True),
    "api:coco-import": Row("/api/import/coco/", {"POST": (401, 200, 200, 200)}, body={
        "images": [{"id": 1, "file_name": "{asset_filename}", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "imported"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]}],
    }),
    "api:coco-import-job": Row("/api/import/coco/jobs/{coco_job}/", {"GET": API_OBJECT}),
    "api:labels": Row("/api/labels/", {"GET": (401, 200, 200, 200)}, scoped=True),
    # Counts only the caller's own work; asking for another user's asset's place is a 404.
    "api:tagging-status": Row("/api/status/?asset={asset}", {"GET": (401, 200, 404, 404)}),
    # Each user's own count (a number: nothing of the owner's to leak; tests/review/test_api.py checks it).
    "api:review-queue": Row("/api/review/queue/", {"GET": (401, 200, 200, 200)}),
    "api:webhook-list": Row("/api/webhooks/", {"GET": (401, 200, 200, 200), "POST": (401, 400, 400, 400)},
                            scoped=True),
    "api:token-list": Row("/api/tokens/", {"GET": (401, 200, 200, 200), "POST": (401, 201, 201, 201)},
                          body={"name": "matrix"}, scoped=True),
    "api:token-list [format]": Row("/api/tokens.json", {"GET": (401, 200, 200, 200), "POST": (401, 201, 201, 201)},
                                   body={"name": "matrix"}, scoped=True),
    "api:token-detail": Row("/api/tokens/{token}/", {"GET": API_OBJECT, "DELETE": (401, 204, 404, 404)}),
    "api:token-detail [format]": Row("/api/tokens/{token}.json", {"GET": API_OBJECT,
                                                                 "DELETE": (401, 204, 404, 404)}),
    "api:webhook-list [format]": Row("/api/webhooks.json", {"GET": (401, 200, 200, 200),
                                                            "POST": (401, 400, 400, 400)}, scoped=True),
    "api:webhook-detail": Row("/api/webhooks/{webhook}/", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                          "DELETE": (401, 204, 404, 404)},
                              body={"description": "changed"}),
    "api:webhook-detail [format]": Row("/api/webhooks/{webhook}.json", {"GET": API_OBJECT, "PATCH": API_OBJECT,
                                                                       "DELETE": (401, 204, 404, 404)},
                                       body={"description": "changed"}),
    "api:webhook-deliveries": Row("/api/webhooks/{webhook}/deliveries/", {"GET": API_OBJECT}),
    "api:webhook-deliveries [format]": Row("/api/webhooks/{webhook}/deliveries.json", {"GET": API_OBJECT}),
    "api:webhook-ping": Row("/api/webhooks/{webhook}/ping/", {"POST": (401, 202, 404, 404)}),
    "api:webhook-ping [format]": Row("/api/webhooks/{webhook}/ping.json", {"POST": (401, 202, 404, 404)}),
    "api:webhook-secret": Row("/api/webhooks/{webhook}/secret/", {"GET": API_OBJECT, "POST": API_OBJECT}),
    "api:webhook-secret [format]": Row("/api/webhooks/{webhook}/secret.json", {"GET": API_OBJECT,
                                                                              "POST": API_OBJECT}),
    # The API's description is public, like any OpenAPI document; it holds no one's data.
    "api:schema": Row("/api/schema/", {"GET": (200, 200, 200, 200)}),
    "api:swagger-ui": Row("/api/docs/", {"GET": (200, 200, 200, 200)}),
    "api:redoc": Row("/api/redoc/", {"GET": (200, 200, 200, 200)}),
    "api:redoc-bundle": Row("/api/redoc/redoc.standalone.js", {"GET": (200, 200, 200, 200)}),
    "api/(?P<path>.*/)$": Row("/api/no-such-endpoint/", {"GET": (404, 404, 404, 404)}),
    # --- health: for load balancers and monitoring, no login ---
    "health": Row("/health/", {"GET": (200, 200, 200, 200)}),
    "health-live": Row("/health/live/", {"GET": (200, 200, 200, 200)}),
}


def _admin_rows() -> dict[str, Row]:
    """The admin's routes for each registered model. A model registered later is not here: the test fails."""
    rows = {}
    for model, placeholder in ADMIN_MODELS.items():
        app, name = model.split("_", 1)
        base = f"/admin/{app}/{name}/"
        rows[f"admin:{model}_changelist"] = Row(base, {"GET": ADMIN})
        rows[f"admin:{model}_add"] = Row(f"{base}add/", {"GET": (302, 302, 302, 403) if model in NO_ADD else ADMIN})
        for action in ("history", "delete", "change"):
            rows[f"admin:{model}_{action}"] = Row(f"{base}{{{placeholder}}}/{action}/", {"GET": ADMIN})
        # The bare object URL redirects to its change page: staff 302, everyone else to the login.
        rows[f"admin/{app}/{name}/<path:object_id>/"] = Row(
            f"{base}{{{placeholder}}}/", dict.fromkeys(("GET", *UNSAFE), (302, 302, 302, 302)), login_redirect=False
        )
    return rows


# Model admin → the placeholder naming the owner's object of that model.
ADMIN_MODELS = {
    "auth_group": "group",
    "auth_user": "owner_id",
    "integrations_apitoken": "token",
    "axes_accessattempt": "access_attempt",
    "axes_accesslog": "access_log",
    "axes_accessfailurelog": "access_failure_log",
    "media_asset": "asset",
    "tagging_label": "label",
    "tagging_detection": "detection",
    "tagging_detectionrun": "run",
    "tagging_assettag": "assettag",
    "integrations_webhook": "webhook",
    "integrations_webhookdelivery": "delivery",
    "albums_collection": "collection",
    "albums_sharelink": "share_link",
}
# Models nobody adds in the admin (403 for staff too): a token's key would have to be shown there; login
# attempts are recorded, never made up.
NO_ADD = {"integrations_apitoken", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog",
          "albums_collection", "albums_sharelink"}
TABLE.update(_admin_rows())


# --- the world each check runs in --------------------------------------------------------------


class World:
    def __init__(self) -> None:
        self.owner = UserFactory(username="owner")
        self.other = UserFactory(username="other")
        self.staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
        self.other_asset = asset_create(owner=self.other, file=upload(image_bytes("PNG", color=(9, 9, 9)),
                                                                      "other.png")).asset
        self.asset = asset_create(owner=self.owner, file=upload(image_bytes("PNG", color=(1, 2, 3)),
                                                                OWNER_FILENAME)).asset
        # A stored proxy (bytes only: who may fetch it is what is checked here, not what it holds).
        self.asset.video_proxy.name = default_storage.save(f"proxies/{self.asset.id.hex[:2]}/{self.asset.id.hex}.mp4",
                                                           ContentFile(b"proxy bytes"))
        self.asset.save(update_fields=["video_proxy"])
        self.detection = detection_add_manual(asset=self.asset, label=OWNER_LABEL, box=Box(2, 2, 20, 20))
        self.track = Track.objects.create(asset=self.asset, label=Label.objects.get(name=OWNER_LABEL), start=0.0,
                                          end=1.0, confidence=0.9, mean_confidence=0.8,
                                          boxes=[[0.0, 1, 1, 5, 5, 0.9], [1.0, 2, 2, 5, 5, 0.7]])
        self.trashed = asset_trash(asset=asset_create(owner=self.owner, file=upload(
            image_bytes("PNG", color=(4, 5, 6)), OWNER_TRASHED)).asset)
        self.collection = collection_create(owner=self.owner, name=OWNER_COLLECTION)
        collection_add(collection=self.collection, assets=Asset.objects.filter(pk=self.asset.pk))
        self.share_link, self.share_key = share_link_create(collection=self.collection)
        self.run = DetectionRun.objects.create(asset=self.asset, model_name="m", started_at=timezone.now(),
                                               succeeded=True)
        self.webhook = Webhook.objects.create(owner=self.owner, url=OWNER_HOOK, secret="s" * 40,
                                              events=["asset.tagged"])
        self.delivery = WebhookDelivery.objects.create(webhook=self.webhook, event="asset.tagged", payload={})
        self.coco_job = CocoImportJob.objects.create(owner=self.owner, annotations=1)
        self.group = Group.objects.create(name="editors")
        self.tokens = {user.username: token_create(user=user, name="client")[1] for user in (self.owner, self.other,
                                                                                              self.staff)}
        self.token = token_create(user=self.owner, name=OWNER_TOKEN)[0]
        now = timezone.now()
        self.access_attempt = AccessAttempt.objects.create(username="owner", ip_address="192.0.2.1", user_agent="t",
                                                           failures_since_start=1, attempt_time=now)
        self.access_log = AccessLog.objects.create(username="owner", ip_address="192.0.2.1", user_agent="t",
                                                   attempt_time=now)
        self.access_failure_log = AccessFailureLog.objects.create(username="owner", ip_address="192.0.2.1",
                                                                  user_agent="t", attempt_time=now)
        self.ids = {
            "asset": self.asset.pk,
            "detection": self.detection.pk,
            "track": self.track.pk,
            "webhook": self.webhook.pk,
            "run": self.run.pk,
            "delivery": self.delivery.pk,
            "label": Label.objects.get(name=OWNER_LABEL).pk,
            "assettag": AssetTag.objects.get(asset=self.asset).pk,
            "group": self.group.pk,
            "coco_job": self.coco_job.pk,
            "token": self.token.pk,
            "access_attempt": self.access_attempt.pk,
            "access_log": self.access_log.pk,
            "access_failure_log": self.access_failure_log.pk,
            "owner_id": self.owner.pk,
            "asset_ct": ContentType.objects.get_for_model(Asset).pk,
            "uidb64": urlsafe_base64_encode(force_bytes(self.owner.pk)),
            "reset_token": default_token_generator.make_token(self.owner),
            "asset_filename": OWNER_FILENAME,
            "trashed": self.trashed.pk,
            "collection": self.collection.pk,
            "share_link": self.share_link.pk,
            "share_key": self.share_key,
        }

    def client(self, role: str, api: bool) -> Client:
        user = {"owner": self.owner, "other": self.other, "staff": self.staff}.get(role)
        if api:
            client = APIClient()
            if user is not None:
                client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[user.username]}")
            return client
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    def owner_state(self) -> tuple[Any, ...]:
        """Everything of the owner's that a request by someone else must leave alone."""
        owner = type(self.owner).objects.get(pk=self.owner.pk)
        return (
            list(Asset.all_objects.filter(owner=owner).order_by("pk").values_list(
                "pk", "title", "tagging_status", "tagging_attempts", "favorite", "trashed_at")),
            list(Collection.objects.filter(owner=owner).values_list("pk", "name", "query")),
            sorted(CollectionItem.objects.filter(collection__owner=owner).values_list("collection_id", "asset_id")),
            list(ShareLink.objects.filter(collection__owner=owner).values_list("pk", "revoked_at", "expires_at")),
            list(Detection.objects.filter(asset__owner=owner).order_by("pk").values_list("pk", "label__name",
                                                                                          "review", "x")),
            list(Track.objects.filter(asset__owner=owner).order_by("pk").values_list("pk", "label__name", "review")),
            list(Webhook.objects.filter(owner=owner).values_list("pk", "url", "description", "secret", "active")),
            WebhookDelivery.objects.filter(webhook__owner=owner).count(),
            list(ApiToken.objects.filter(user=owner).order_by("pk").values_list("digest", "name", "expires_at")),
            (owner.password, owner.is_active, owner.is_staff, owner.username),
        )


@pytest.fixture
def world(db, settings) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; not under test here
    return World()


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _request(world: World, role: str, method: str, url: str, body: dict[str, Any]) -> Any:
    api = url.startswith("/api/")
    client = world.client(role, api)
    call = getattr(client, method.lower())
    if method == "GET":
        return call(url)
    if api:
        return call(url, data=json.dumps(body), content_type="application/json")
    if method == "POST":
        return call(url, data=body)
    return call(url, data=json.dumps(body), content_type="application/json")


def observe(world: World, url: str, method: str, body: dict[str, Any]) -> tuple[int, ...]:
    """What each role gets today (for the suggestion printed when a route is missing)."""
    return tuple(_request(world, role, method, url, body).status_code for role in ROLES)


# --- the tests ---------------------------------------------------------------------------------


def test_every_route_is_in_the_table(world):
    missing = sorted(set(ROUTES) - set(TABLE))
    stale = sorted(set(TABLE) - set(ROUTES))
    if missing:
        lines = []
        for key in missing:
            route = ROUTES[key]
            lines.append(f"  {key!r}: pattern {route.pattern!r}, methods {', '.join(route.methods)}")
        pytest.fail(
            "These routes are not in tests/assetsite/test_access_matrix.py TABLE, so nobody decided who may use them:\n"
            + "\n".join(lines)
            + "\nAdd a Row for each: a concrete URL built from the owner's objects ({asset}, {webhook}, ...) and, "
            "for every method, the status for (anonymous, owner, other user, staff). Another user's object must "
            "be a 404, never a 403; a list must show the other user only their own things (scoped=True)."
        )
    assert not stale, f"TABLE has rows for routes that no longer exist; remove them: {stale}"


def test_every_method_a_route_serves_is_checked():
    wrong = {
        key: (sorted(TABLE[key].expect), list(route.methods))
        for key, route in ROUTES.items()
        if key in TABLE and set(TABLE[key].expect) != set(route.methods)
    }
    assert not wrong, f"TABLE's methods differ from what the views serve (table, views): {wrong}"


# Known failures, kept visible as strict xfails (none at the moment).
KNOWN_BUGS: set[tuple[str, str]] = set()
CASES = [
    pytest.param(key, method, id=f"{method} {key}",
                 marks=[pytest.mark.xfail(strict=True, reason="500: action without format kwarg")]
                 if (key, method) in KNOWN_BUGS else [])
    for key, row in TABLE.items()
    for method in row.expect
]


@pytest.mark.parametrize(("key", "method"), CASES)
@pytest.mark.usefixtures("fresh_throttle_history")  # a status, not a rate limit left by earlier tests
def test_access(world, key, method):
    row = TABLE[key]
    url = _fill(row.url, world.ids)
    body = _fill(row.body, world.ids)
    route = ROUTES.get(key)
    assert route is not None, f"{key} is in TABLE but not in the URL configuration"
    assert resolve(urlsplit(url).path).route == route.pattern, f"{url} does not reach the route {key}"
    before = world.owner_state()
    for role in ("anonymous", "other", "staff", "owner"):  # the owner last: their request may change things
        expected = row.expect[method][ROLES.index(role)]
        if expected is None:
            continue
        response = _request(world, role, method, url, body)
        where = f"{method} {url} as {role}"
        assert response.status_code == expected, (
            f"{where}: {response.status_code}, the table says {expected}\n{response.content[:300]!r}"
        )
        if role != "owner":
            assert world.owner_state() == before, f"{where} changed the owner's data"
        if expected == 302 and role == "anonymous" and row.login_redirect and not url.startswith("/accounts/"):
            login = "/admin/login/" if url.startswith("/admin/") else "/accounts/login/"
            assert response["Location"].startswith(login), f"{where} redirects to {response['Location']}"
        if row.scoped and response.status_code == 200:
            content = b"".join(response.streaming_content) if response.streaming else response.content
            markers = (str(world.asset.pk), OWNER_FILENAME, OWNER_LABEL, OWNER_HOOK, OWNER_TOKEN, OWNER_COLLECTION,
                       OWNER_TRASHED, str(world.trashed.pk))
            shown = [marker for marker in markers if marker.encode() in content]
            if role == "owner":
                assert shown, f"{where}: the owner's own data is missing, so the scoping check proves nothing"
            else:
                assert not shown, f"{where} shows the owner's data: {shown}"
