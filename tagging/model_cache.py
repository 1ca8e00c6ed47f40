"""The detector as the worker holds it: loaded once per process, after fork, never per task."""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

from tagging.detector import Detector, DetectorConfig, load_detector

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_detectors: dict[str, Detector] = {}
_owner_pid: int | None = None


def detector_config(model: str = "") -> DetectorConfig:
    return DetectorConfig(
        model=model or settings.TAGGING_MODEL,
        device=settings.TAGGING_DEVICE,
        weights_dir=settings.TAGGING_WEIGHTS_DIR,
        allow_download=settings.TAGGING_ALLOW_DOWNLOAD,
        score_threshold=settings.TAGGING_SCORE_THRESHOLD,
        label_thresholds=dict(settings.TAGGING_LABEL_THRESHOLDS),
        max_detections=settings.TAGGING_MAX_DETECTIONS,
        min_box_size=settings.TAGGING_MIN_BOX_SIZE,
        fp16=settings.TAGGING_FP16,
    )


def torch_threads() -> int:
    if settings.TAGGING_TORCH_THREADS:
        return settings.TAGGING_TORCH_THREADS
    concurrency = int(os.environ.get("TAGGING_WORKER_CONCURRENCY", "1") or 1)
    return max(1, (os.cpu_count() or 1) // max(concurrency, 1))


def get_detector(model: str = "") -> Detector:
    """This process's detector for ``model`` (default: TAGGING_MODEL), loading it on first use.

    A forked child never reuses its parent's model (CUDA contexts do not survive fork); a failed
    load is not cached, so fixing the weights needs no worker restart.
    """
    global _owner_pid
    with _lock:
        if _owner_pid != os.getpid():
            import torch

            _detectors.clear()
            _owner_pid = os.getpid()
            torch.set_num_threads(torch_threads())
        key = model or settings.TAGGING_MODEL
        detector = _detectors.get(key)
        if detector is None:
            detector = load_detector(detector_config(model))
            logger.info(
                "loaded detector %s (%s) on %s in %.1f s",
                detector.model_name,
                detector.weights_identity,
                detector.device,
                detector.load_seconds,
            )
            _detectors[key] = detector
        return detector


def batch_size_for(detector: Detector) -> int:
    if settings.TAGGING_BATCH_SIZE:
        return settings.TAGGING_BATCH_SIZE
    return 8 if detector.device.type == "cuda" else 1
