"""Object detection with torchvision models.

No Django imports: the Celery worker, the benchmark and the training script of the
test detector all share this module.

A model is named either by a torchvision detection builder (``fasterrcnn_mobilenet_v3_large_fpn``),
whose COCO weights come from torchvision's weights enum, or by the path of a checkpoint file
(see ``save_checkpoint`` for its format) so users can bring a detector of their own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from PIL import Image
from torch import nn
from torchvision.models import detection as tv_detection
from torchvision.models import get_model, get_model_weights, list_models
from torchvision.models._api import WeightsEnum
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FasterRCNN, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign
from torchvision.transforms.functional import pil_to_tensor

from tagging.boxes import Box, DetectedObject

CHECKPOINT_FORMAT = "assetsite.detector"
CHECKPOINT_FORMAT_VERSION = 1
# Category names that are placeholders in torchvision's COCO lists, never real tags.
NON_LABELS = frozenset({"__background__", "N/A", "no person"})
CPU_DEFAULT_MODEL = "fasterrcnn_mobilenet_v3_large_fpn"
GPU_DEFAULT_MODEL = "fasterrcnn_resnet50_fpn_v2"


class DetectorError(Exception):
    """A detector could not be built or run; the message says what to do."""


class UnknownModelError(DetectorError):
    pass


class WeightsMissingError(DetectorError):
    pass


class CheckpointError(DetectorError):
    pass


@dataclass(frozen=True)
class DetectorConfig:
    """What to load and how to filter its output.

    ``model`` is a builder name or a checkpoint path; empty means the default for the device.
    """

    model: str = ""
    device: str = "auto"
    weights_dir: Path | None = None
    allow_download: bool = True
    score_threshold: float = 0.5
    label_thresholds: Mapping[str, float] = field(default_factory=dict)
    max_detections: int = 100
    min_box_size: int = 0
    fp16: bool = True

    def threshold_for(self, label: str) -> float:
        return self.label_thresholds.get(label, self.score_threshold)


# --- architectures ------------------------------------------------------------------------------


def _conv_bn_relu(in_channels: int, out_channels: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class TinyBackbone(nn.Sequential):
    """A plain convolutional backbone (stride 16, ~0.6 M parameters) for small custom detectors."""

    def __init__(self, out_channels: int = 128) -> None:
        super().__init__(
            _conv_bn_relu(3, 16, stride=2),
            _conv_bn_relu(16, 32, stride=2),
            _conv_bn_relu(32, 64, stride=2),
            _conv_bn_relu(64, 64),
            _conv_bn_relu(64, out_channels, stride=2),
            _conv_bn_relu(out_channels, out_channels),
            # Dilations widen the receptive field so large objects are seen whole.
            _conv_bn_relu(out_channels, out_channels, dilation=2),
            _conv_bn_relu(out_channels, out_channels, dilation=4),
        )
        self.out_channels = out_channels


def fasterrcnn_tiny(*, num_classes: int, min_size: int = 320, max_size: int = 512, **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN on ``TinyBackbone``: a few MB, trainable on a CPU, for simple domains."""
    backbone = TinyBackbone()
    anchors = AnchorGenerator(sizes=((16, 32, 64, 128, 256),), aspect_ratios=((0.5, 1.0, 2.0),))
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    representation = 128
    defaults: dict[str, Any] = {
        "rpn_pre_nms_top_n_train": 1000,
        "rpn_post_nms_top_n_train": 500,
        "rpn_pre_nms_top_n_test": 500,
        "rpn_post_nms_top_n_test": 300,
        "box_batch_size_per_image": 128,
    }
    defaults.update(kwargs)
    return FasterRCNN(
        backbone,
        min_size=min_size,
        max_size=max_size,
        rpn_anchor_generator=anchors,
        box_roi_pool=roi_pool,
        box_head=TwoMLPHead(backbone.out_channels * 7 * 7, representation),
        box_predictor=tv_detection.faster_rcnn.FastRCNNPredictor(representation, num_classes),
        **defaults,
    )


# Architectures this project defines besides torchvision's own builders.
EXTRA_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"fasterrcnn_tiny": fasterrcnn_tiny}


def torchvision_detection_models() -> list[str]:
    return sorted(list_models(module=tv_detection))


def available_architectures() -> list[str]:
    return sorted([*torchvision_detection_models(), *EXTRA_ARCHITECTURES])


def build_architecture(architecture: str, *, num_classes: int, **kwargs: Any) -> nn.Module:
    """An untrained model of the named architecture with ``num_classes`` outputs (background included)."""
    if architecture in EXTRA_ARCHITECTURES:
        return EXTRA_ARCHITECTURES[architecture](num_classes=num_classes, **kwargs)
    if architecture in torchvision_detection_models():
        return get_model(architecture, weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    raise UnknownModelError(
        f"Unknown detection architecture {architecture!r}. Known: {', '.join(available_architectures())}."
    )


# --- weights ------------------------------------------------------------------------------------


def is_checkpoint_path(model: str) -> bool:
    return model.endswith((".pt", ".pth", ".ckpt")) or os.sep in model or "/" in model


def default_model_for(device: torch.device) -> str:
    return GPU_DEFAULT_MODEL if device.type == "cuda" else CPU_DEFAULT_MODEL


def coco_weights_for(model_name: str) -> WeightsEnum:
    """The default (COCO) weights of a torchvision detection builder."""
    if model_name not in torchvision_detection_models():
        raise UnknownModelError(
            f"Unknown detection model {model_name!r}. Use one of {', '.join(torchvision_detection_models())}, "
            "or the path of a checkpoint file."
        )
    return get_model_weights(model_name).DEFAULT


def weights_file_path(weights: WeightsEnum, weights_dir: Path) -> Path:
    """Where torch's hub cache keeps (or would keep) this weights file under ``weights_dir``."""
    return weights_dir / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def _expected_hash_prefix(path: Path) -> str | None:
    # torchvision names its files "<name>-<first hex digits of sha256>.pth"; torch checks them the same way.
    stem = path.name.rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return prefix.lower() if prefix and all(c in "0123456789abcdefABCDEF" for c in prefix) else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def missing_weights_message(model_name: str, weights_dir: Path, *, why: str) -> str:
    weights = coco_weights_for(model_name)
    return (
        f"The weights of {model_name} are not in {weights_dir} ({why}). "
        f"On a machine with internet run `python manage.py download_weights {model_name}`; "
        f"offline, fetch {weights.url} elsewhere and run "
        f"`python manage.py import_weights {model_name} /path/to/{weights_file_path(weights, weights_dir).name}`. "
        "Then re-run tagging with `python manage.py retag --status failed`."
    )


def download_weights(model_name: str, weights_dir: Path) -> Path:
    """Fetch a builder's COCO weights into ``weights_dir`` (no-op when already there)."""
    weights = coco_weights_for(model_name)
    target = weights_file_path(weights, weights_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.load_state_dict_from_url(
            weights.url, model_dir=str(target.parent), progress=True, check_hash=True, weights_only=True
        )
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        target.unlink(missing_ok=True)
        why = f"download failed: {error}"
        raise WeightsMissingError(missing_weights_message(model_name, weights_dir, why=why)) from error
    return target


def import_weights(model_name: str, source: Path, weights_dir: Path) -> Path:
    """Copy a weights file fetched elsewhere into the cache, after checking it is the official file."""
    weights = coco_weights_for(model_name)
    target = weights_file_path(weights, weights_dir)
    if not source.is_file():
        raise WeightsMissingError(f"{source} is not a file.")
    expected = _expected_hash_prefix(target)
    if expected and not file_sha256(source).startswith(expected):
        raise CheckpointError(
            f"{source} is not the official weights file of {model_name}: its SHA-256 does not start with "
            f"{expected}. Download {weights.url} again."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".partial")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
    return target


# --- checkpoints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    architecture: str
    categories: list[str]
    state_dict: dict[str, torch.Tensor]
    architecture_kwargs: dict[str, Any]
    metadata: dict[str, Any]


def save_checkpoint(
    path: Path,
    *,
    model: nn.Module,
    architecture: str,
    categories: Sequence[str],
    architecture_kwargs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    half: bool = True,
) -> None:
    """Write a checkpoint users can point ``TAGGING_MODEL`` at.

    The file is a ``torch.save`` dict: ``format``/``format_version``, ``architecture`` (a name from
    ``available_architectures()``), ``categories`` (index 0 is ``__background__``), ``state_dict``,
    and optional ``architecture_kwargs`` and ``metadata``. Floating tensors are stored in half
    precision by default to keep files small; they are widened again on load.
    """
    state = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().clone()
        for key, value in model.state_dict().items()
    }
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "architecture": architecture,
        "categories": list(categories),
        "architecture_kwargs": dict(architecture_kwargs or {}),
        "metadata": dict(metadata or {}),
        "state_dict": state,
    }
    temporary = Path(f"{path}.partial")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def read_checkpoint(path: Path) -> Checkpoint:
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file {path} does not exist. Check TAGGING_MODEL.")
    try:
        # weights_only refuses pickled code, so a hostile checkpoint cannot run anything.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for files that are not checkpoints
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: {str(error)[:200]}). "
            "It must be a file written by torch.save in the format described in the README."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a detector checkpoint: it lacks format={CHECKPOINT_FORMAT!r}. "
            "See 'Bring your own detector' in the README."
        )
    if payload.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')!r}; "
            f"this version reads {CHECKPOINT_FORMAT_VERSION}."
        )
    missing = [key for key in ("architecture", "categories", "state_dict") if key not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}.")
    categories = payload["categories"]
    if not isinstance(categories, list) or len(categories) < 2 or not all(isinstance(c, str) for c in categories):
        raise CheckpointError(f"{path}: categories must be a list of names, '__background__' first.")
    return Checkpoint(
        architecture=str(payload["architecture"]),
        categories=categories,
        state_dict=payload["state_dict"],
        architecture_kwargs=dict(payload.get("architecture_kwargs") or {}),
        metadata=dict(payload.get("metadata") or {}),
    )


def model_from_checkpoint(checkpoint: Checkpoint, *, source: Path) -> nn.Module:
    try:
        model = build_architecture(
            checkpoint.architecture, num_classes=len(checkpoint.categories), **checkpoint.architecture_kwargs
        )
    except UnknownModelError as error:
        raise CheckpointError(f"{source}: {error}") from error
    try:
        model.load_state_dict(checkpoint.state_dict, strict=True)
    except RuntimeError as error:
        summary = str(error).splitlines()[0:3]
        raise CheckpointError(
            f"{source}: its weights do not fit architecture {checkpoint.architecture!r} with "
            f"{len(checkpoint.categories)} categories ({' '.join(summary)[:300]}). "
            "Was it saved from a different architecture?"
        ) from error
    return model


# --- the detector -------------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DetectorError(f"TAGGING_DEVICE={name} but CUDA is not available on this machine. Use 'cpu' or 'auto'.")
    return device


def model_input_scale(model: nn.Module, width: int, height: int) -> float:
    """The factor the model's own transform would resize an image by (at most 1)."""
    transform = getattr(model, "transform", None)
    min_size = getattr(transform, "min_size", None)
    max_size = getattr(transform, "max_size", None)
    if not min_size or not max_size:
        return 1.0
    short_target = float(min_size[-1] if isinstance(min_size, (tuple, list)) else min_size)
    scale = min(short_target / min(width, height), float(max_size) / max(width, height))
    return min(scale, 1.0)


@dataclass
class Detector:
    """A loaded model plus the rules that turn its raw output into tags."""

    model: nn.Module
    categories: list[str]
    model_name: str
    weights_identity: str
    device: torch.device
    config: DetectorConfig
    load_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        scale = model_input_scale(self.model, width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))

    def detect(
        self, images: Sequence[Image.Image], *, original_sizes: Sequence[tuple[int, int]] | None = None
    ) -> list[list[DetectedObject]]:
        """Detect objects in ``images`` with one forward pass.

        Boxes are returned in the coordinates of ``original_sizes`` (width, height) when given,
        so callers may pass already-downscaled images of larger originals; otherwise in the
        coordinates of the images themselves.
        """
        if not images:
            return []
        sizes = list(original_sizes) if original_sizes is not None else [image.size for image in images]
        tensors = []
        for image in images:
            width, height = image.size
            target = self.input_size_for(width, height)
            if target != (width, height):
                image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
            tensors.append(pil_to_tensor(image.convert("RGB")).to(self.device, non_blocking=True).float().div_(255))
        with self._lock, torch.inference_mode():
            if self.device.type == "cuda" and self.config.fp16:
                with torch.autocast("cuda", dtype=torch.float16):
                    outputs = self.model(tensors)
            else:
                outputs = self.model(tensors)
        results = []
        for output, tensor, (width, height) in zip(outputs, tensors, sizes, strict=True):
            factor_x = width / tensor.shape[-1]
            factor_y = height / tensor.shape[-2]
            results.append(self._to_objects(output, factor_x, factor_y, width, height))
        return results

    def _to_objects(
        self, output: Mapping[str, torch.Tensor], factor_x: float, factor_y: float, width: int, height: int
    ) -> list[DetectedObject]:
        boxes = output["boxes"].float().cpu().tolist()
        scores = output["scores"].float().cpu().tolist()
        labels = output["labels"].cpu().tolist()
        found: list[DetectedObject] = []
        for (x1, y1, x2, y2), score, index in sorted(zip(boxes, scores, labels, strict=True), key=lambda row: -row[1]):
            if not 0 <= index < len(self.categories):
                continue
            label = self.categories[index]
            if label in NON_LABELS or score < self.config.threshold_for(label):
                continue
            box = Box.from_corners(x1 * factor_x, y1 * factor_y, x2 * factor_x, y2 * factor_y).clamped(width, height)
            if min(box.width, box.height) < self.config.min_box_size:
                continue
            found.append(DetectedObject(label=label, confidence=round(float(score), 4), box=box))
            if len(found) >= self.config.max_detections:
                break
        return found


def load_detector(config: DetectorConfig) -> Detector:
    """Build the configured model, load its weights and put it in eval mode on its device."""
    device = resolve_device(config.device)
    name = config.model or default_model_for(device)
    started = time.monotonic()
    if is_checkpoint_path(name):
        path = Path(name).expanduser()
        checkpoint = read_checkpoint(path)
        model = model_from_checkpoint(checkpoint, source=path)
        categories = checkpoint.categories
        identity = f"{path.name} sha256:{file_sha256(path)[:16]}"
        model_name = f"{checkpoint.architecture} ({path.name})"
    else:
        weights = coco_weights_for(name)
        weights_dir = config.weights_dir or Path(torch.hub.get_dir())
        weights_file = weights_file_path(weights, weights_dir)
        if not weights_file.exists():
            if not config.allow_download:
                raise WeightsMissingError(
                    missing_weights_message(name, weights_dir, why="downloads are off: TAGGING_ALLOW_DOWNLOAD=0")
                )
            download_weights(name, weights_dir)
        categories = list(weights.meta["categories"])
        model = build_architecture(name, num_classes=len(categories))
        try:
            model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
        except Exception as error:
            raise WeightsMissingError(
                f"The weights file {weights_file} is unreadable ({error}). Delete it and "
                f"run `python manage.py download_weights {name}` again."
            ) from error
        identity = f"{weights}"
        model_name = name
    model.eval().to(device)
    return Detector(
        model=model,
        categories=categories,
        model_name=model_name,
        weights_identity=identity,
        device=device,
        config=config,
        load_seconds=time.monotonic() - started,
    )
