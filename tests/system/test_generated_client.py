"""A Python client generated from the live /api/schema/ with openapi-python-client, as integrators make
one: every generated module imports, and a short integration runs through it against a live server
and a real worker (upload, wait for tagging, search, facets, a manual detection, a bulk action, COCO
export, renditions and signed URLs). Every answer must parse into the typed models with no field the
schema does not know."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from testkit.shapes import three_shapes_scene
from tests.conftest import token_key
from tests.factories import UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# Models the schema declares as free-form objects (their keys are data, not fields).
FREE_FORM = {"RunLabelThresholds", "CocoDocumentInfo"}


@pytest.fixture
def generated(site, tmp_path: Path) -> Any:
    """The client package, generated from the running server's schema into a temporary folder."""
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: the dev install provides openapi-python-client")
    with urllib.request.urlopen(f"{site}/api/schema/?format=json") as response:
        schema = json.load(response)
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text(
        "project_name_override: assetsite_client\npackage_name_override: assetsite_client\npost_hooks: []\n"
    )
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            "assetsite_client",
            "--config",
            "config.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path / "assetsite_client"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "assetsite_client"]:
            del sys.modules[name]


def import_all(package: Path) -> dict[str, Any]:
    modules = {}
    for path in sorted(package.rglob("*.py")):
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = importlib.import_module(name)
    return modules


def fully_typed(value: Any, where: str = "answer") -> list[str]:
    """Places where a parsed answer holds keys the schema does not declare."""
    problems: list[str] = []
    extra = getattr(value, "additional_properties", None)
    if extra and type(value).__name__ not in FREE_FORM:
        problems.append(f"{where}: {type(value).__name__} has undeclared {sorted(extra)}")
    if hasattr(value, "__attrs_attrs__"):
        for attribute in value.__attrs_attrs__:
            if attribute.name != "additional_properties":
                problems += fully_typed(getattr(value, attribute.name), f"{where}.{attribute.name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += fully_typed(item, f"{where}[{index}]")
    return problems


def parsed(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content[:500]
    assert response.parsed is not None, f"no typed model for {response.content[:300]!r}"
    assert fully_typed(response.parsed) == []
    return response.parsed


def test_a_generated_client_works_on_every_endpoint(site, generated):
    modules = import_all(generated)
    assert len(modules) > 40  # every endpoint and model module imported without error

    from assetsite_client import AuthenticatedClient
    from assetsite_client.api.assets import (
        assets_bulk_create,
        assets_create,
        assets_detections_create,
        assets_list,
        assets_original_retrieve,
        assets_rendition_retrieve,
        assets_retrieve,
        assets_signed_urls_create,
    )
    from assetsite_client.api.detections import detections_crop_retrieve, detections_partial_update
    from assetsite_client.api.export import export_coco_retrieve
    from assetsite_client.api.labels import labels_list
    from assetsite_client.models import (
        ActionEnum,
        AssetsRenditionRetrieveFit,
        AssetsRenditionRetrieveFormat,
        BoxInputRequest,
        BulkRequest,
        DetectionCreateRequest,
        FileEnum,
        PatchedDetectionUpdateRequest,
        SignedUrlRequestRequest,
        UploadRequest,
    )
    from assetsite_client.types import File

    user = UserFactory(username="integrator")
    client = AuthenticatedClient(base_url=site, token=token_key(user), prefix="Token", raise_on_unexpected_status=True)

    scene = three_shapes_scene()
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    upload = UploadRequest(
        file=File(payload=io.BytesIO(buffer.getvalue()), file_name="shapes.png", mime_type="image/png")
    )
    asset = parsed(assets_create.sync_detailed(client=client, body=upload), 201)
    deadline = time.monotonic() + 120
    while asset.status not in ("tagged", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        asset = parsed(assets_retrieve.sync_detailed(asset.id, client=client), 200)
    assert asset.status == "tagged", asset.error
    assert sorted(tag.label for tag in asset.tags) == ["circle", "square", "triangle"]

    found = parsed(assets_list.sync_detailed(client=client, q="circle AND triangle"), 200)
    assert [item.id for item in found.results] == [asset.id]
    assert parsed(assets_list.sync_detailed(client=client, q="circle -square"), 200).results == []
    facets = parsed(labels_list.sync_detailed(client=client), 200)
    assert {facet.label: facet.count for facet in facets} == {"circle": 1, "square": 1, "triangle": 1}

    added = parsed(
        assets_detections_create.sync_detailed(
            asset.id,
            client=client,
            body=DetectionCreateRequest(label="Sun", box=BoxInputRequest(x=1, y=1, width=20, height=20)),
        ),
        201,
    )
    assert added.label == "sun" and added.source == "manual"
    reviewed = parsed(
        detections_partial_update.sync_detailed(
            added.id, client=client, body=PatchedDetectionUpdateRequest(label="star")
        ),
        200,
    )
    assert reviewed.label == "star"
    bulk = parsed(
        assets_bulk_create.sync_detailed(
            client=client, body=BulkRequest(action=ActionEnum.ADD_TAG, q="triangle", label="holiday")
        ),
        200,
    )
    assert bulk.matched == 1 and bulk.changed == 1

    coco = parsed(export_coco_retrieve.sync_detailed(client=client, q="holiday"), 200)
    assert len(coco.images) == 1 and len(coco.annotations) == 4  # three shapes and the star (holiday has no box)

    original = assets_original_retrieve.sync_detailed(asset.id, client=client)
    assert original.status_code == 200 and original.content == buffer.getvalue()
    rendition = assets_rendition_retrieve.sync_detailed(
        asset.id,
        client=client,
        width=120,
        height=120,
        fit=AssetsRenditionRetrieveFit.COVER,
        focus="circle",
        format_=AssetsRenditionRetrieveFormat.WEBP,
    )
    assert rendition.status_code == 200 and rendition.headers["X-Rendition-Focus"].startswith("circle")
    assert Image.open(io.BytesIO(rendition.content)).size == (120, 120)
    circle = next(d for d in asset.detections if d.label == "circle")
    crop = detections_crop_retrieve.sync_detailed(circle.id, client=client)
    assert Image.open(io.BytesIO(crop.content)).size == (circle.box.width, circle.box.height)

    signed = parsed(
        assets_signed_urls_create.sync_detailed(
            asset.id, client=client, body=SignedUrlRequestRequest(file=FileEnum.ORIGINAL)
        ),
        201,
    )
    with urllib.request.urlopen(signed.url) as response:  # no token: the signature opens the file
        assert response.read() == buffer.getvalue()
