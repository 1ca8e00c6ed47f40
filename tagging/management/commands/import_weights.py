"""Install a weights file fetched on another machine: `import_weights <model> <file>`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tagging.detector import DetectorError, import_weights


class Command(BaseCommand):
    help = "Copy an official torchvision weights file into TAGGING_WEIGHTS_DIR for offline installs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="builder name, e.g. fasterrcnn_mobilenet_v3_large_fpn")
        parser.add_argument("file", type=Path, help="the .pth file downloaded from download.pytorch.org")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = import_weights(options["model"], options["file"], settings.TAGGING_WEIGHTS_DIR)
        except DetectorError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Installed {path}"))
