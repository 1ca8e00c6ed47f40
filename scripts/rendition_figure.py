"""Draw docs/screenshots/renditions.png: an original beside square crops made with focus=<label>.

Runs the real code on a throw-away SQLite database: the upload service, the shipped shapes detector
(real detections, nothing drawn by hand) and the rendition service.

    .venv/bin/python scripts/rendition_figure.py [--out docs/screenshots/renditions.png]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "renditions.png")
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="rendition-figure-")
    os.environ.update(VAR_DIR=var, DATABASE_URL=f"sqlite:///{var}/db.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assetsite.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from PIL import Image, ImageDraw

    settings.TAGGING_MODEL = str(REPO / "tests" / "fixtures" / "shapes_detector.pt")
    settings.TAGGING_DEVICE = "cpu"
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from media.renditions import rendition_make, rendition_spec_parse
    from media.services import asset_create
    from tagging.pipeline import run_detection
    from tagging.selectors import focus_box
    from testkit.shapes import three_shapes_scene

    user = get_user_model().objects.create_user("figure")
    scene = three_shapes_scene(size=(720, 360), background=(214, 226, 236))
    buffer = io.BytesIO()
    scene.image.save(buffer, "PNG")
    asset = asset_create(owner=user, file=SimpleUploadedFile("shapes.png", buffer.getvalue(), "image/png")).asset
    run_detection(asset_id=str(asset.pk), task_id="figure")
    tiles = [("original 720x360", scene.image.copy())]
    for label in ("circle", "square", "triangle"):
        spec = rendition_spec_parse({"width": "240", "height": "240", "fit": "cover", "focus": label, "format": "png"})
        rendition = rendition_make(asset=asset, spec=spec, focus=focus_box(asset=asset, labels=[label]))
        with open(Path(settings.MEDIA_ROOT) / rendition.name, "rb") as handle:
            tiles.append((f"240x240 focus={label}", Image.open(handle).convert("RGB")))
    original = tiles[0][1].resize((480, 240))
    figure = Image.new("RGB", (480 + 3 * 250 + 30, 290), (255, 255, 255))
    draw = ImageDraw.Draw(figure)
    figure.paste(original, (10, 30))
    draw.text((10, 8), tiles[0][0], fill=(30, 30, 30))
    for index, (caption, tile) in enumerate(tiles[1:]):
        left = 500 + index * 250
        figure.paste(tile, (left, 30))
        draw.text((left, 8), caption, fill=(30, 30, 30))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.quantize(colors=128).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
