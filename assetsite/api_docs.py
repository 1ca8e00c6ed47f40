"""The API reference pages, served entirely from this site.

ReDoc's bundle draws its "API docs by Redocly" logo from cdn.redoc.ly; the bundle is served here with
that one address pointing at this site's own icon, so the page loads nothing from elsewhere.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import drf_spectacular_sidecar
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularRedocView

SIDECAR = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"
BUNDLE = SIDECAR / "redoc" / "bundles" / "redoc.standalone.js"
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _bundle(logo: str) -> bytes:
    text = BUNDLE.read_text(encoding="utf-8")
    return text.replace(CDN_LOGO, logo).encode("utf-8")


@require_GET
@cache_control(public=True, max_age=86400)
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_bundle(static("img/favicon.svg")), content_type="application/javascript; charset=utf-8")


class RedocView(SpectacularRedocView):
    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api:redoc-bundle")
