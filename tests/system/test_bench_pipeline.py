"""bench/pipeline.py --untrained: where COCO weights cannot be fetched, the bench times the same
architecture with random weights, loaded through the product's own checkpoint path."""

from __future__ import annotations

from bench.pipeline import untrained_checkpoint
from tagging.coco_categories import COCO_CATEGORIES
from tagging.detector import DetectorConfig, build_architecture, load_detector


def test_the_stand_in_is_the_named_architecture_with_cocos_classes(tmp_path):
    path = untrained_checkpoint("fasterrcnn_mobilenet_v3_large_fpn", tmp_path)

    detector = load_detector(DetectorConfig(model=str(path), device="cpu"))

    assert detector.model_name == f"fasterrcnn_mobilenet_v3_large_fpn ({path.name})"
    assert list(detector.categories) == list(COCO_CATEGORIES)
    reference = build_architecture("fasterrcnn_mobilenet_v3_large_fpn", num_classes=len(COCO_CATEGORIES))
    loaded = detector.model.state_dict()
    # Same layers, same shapes: the same arithmetic per image as the COCO model it stands in for.
    assert {key: value.shape for key, value in loaded.items()} == {
        key: value.shape for key, value in reference.state_dict().items()
    }
    assert type(detector.model) is type(reference)
