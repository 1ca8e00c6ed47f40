"""Fetch torchvision COCO weights into TAGGING_WEIGHTS_DIR (run where there is internet)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tagging.detector import (
    CPU_DEFAULT_MODEL,
    GPU_DEFAULT_MODEL,
    DetectorError,
    download_weights,
    is_checkpoint_path,
    torchvision_detection_models,
)


class Command(BaseCommand):
    help = "Download the COCO weights of torchvision detection models for offline use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "models", nargs="*", help="builder names (default: TAGGING_MODEL, or the CPU and GPU defaults)"
        )
        parser.add_argument("--list", action="store_true", help="list the models that can be downloaded")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            for name in torchvision_detection_models():
                self.stdout.write(name)
            return
        models = options["models"]
        if not models:
            configured = settings.TAGGING_MODEL
            models = [configured] if configured and not is_checkpoint_path(configured) else []
            models = models or [CPU_DEFAULT_MODEL, GPU_DEFAULT_MODEL]
        failures = 0
        for name in models:
            try:
                path = download_weights(name, settings.TAGGING_WEIGHTS_DIR)
            except DetectorError as error:
                failures += 1
                self.stderr.write(self.style.ERROR(str(error)))
            else:
                self.stdout.write(self.style.SUCCESS(f"{name}: {path}"))
        if failures:
            raise CommandError(f"{failures} of {len(models)} downloads failed.")
