"""The detector module on its own: label mapping, filters, boxes, weights and checkpoint errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from tagging.boxes import Box
from tagging.detector import (
    NON_LABELS,
    CheckpointError,
    Detector,
    DetectorConfig,
    UnknownModelError,
    WeightsMissingError,
    build_architecture,
    coco_weights_for,
    import_weights,
    load_detector,
    read_checkpoint,
    save_checkpoint,
    torchvision_detection_models,
)
from testkit.shapes import CATEGORIES, Prediction, make_scene, mean_average_precision, scenes
from tests.conftest import SHAPES_CHECKPOINT

COCO = list(coco_weights_for("fasterrcnn_mobilenet_v3_large_fpn").meta["categories"])


class FixedOutputModel(nn.Module):
    """Returns the same raw detections for every image, in the coordinates of the input tensor."""

    def __init__(self, boxes: list[list[float]], scores: list[float], labels: list[int]) -> None:
        super().__init__()
        self.output = {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "scores": torch.tensor(scores, dtype=torch.float32),
            "labels": torch.tensor(labels, dtype=torch.int64),
        }
        self.inputs: list[torch.Tensor] = []

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        self.inputs = images
        return [self.output for _ in images]


def fixed_detector(model: nn.Module, *, categories: list[str] = COCO, **config: object) -> Detector:
    return Detector(
        model=model,
        categories=categories,
        model_name="fixed",
        weights_identity="none",
        device=torch.device("cpu"),
        config=DetectorConfig(**config),  # type: ignore[arg-type]
    )


def test_coco_indices_map_to_names_and_placeholders_never_become_tags():
    person, car, placeholder = COCO.index("person"), COCO.index("car"), COCO.index("N/A")
    model = FixedOutputModel(
        [[0, 0, 10, 10], [10, 10, 30, 30], [5, 5, 20, 20], [1, 1, 9, 9]],
        [0.9, 0.8, 0.95, 0.99],
        [person, car, placeholder, 0],
    )
    found = fixed_detector(model, score_threshold=0.5).detect([Image.new("RGB", (100, 100))])[0]
    assert [obj.label for obj in found] == ["person", "car"]
    assert not NON_LABELS & {obj.label for obj in found}


@pytest.mark.parametrize("name", torchvision_detection_models())
def test_every_builder_has_coco_categories(name):
    categories = coco_weights_for(name).meta["categories"]
    # Index 0 is the background class ("no person" for the keypoint model): never a tag.
    assert categories[0] in NON_LABELS
    assert "person" in categories


def test_thresholds_global_and_per_label_max_count_and_min_size():
    person, dog, cat = COCO.index("person"), COCO.index("dog"), COCO.index("cat")
    model = FixedOutputModel(
        [[0, 0, 50, 50], [0, 0, 50, 50], [0, 0, 50, 50], [0, 0, 3, 50], [10, 10, 60, 60]],
        [0.65, 0.65, 0.4, 0.99, 0.3],
        [person, dog, cat, person, cat],
    )
    detector = fixed_detector(
        model, score_threshold=0.5, label_thresholds={"person": 0.7, "cat": 0.35}, min_box_size=5
    )
    found = detector.detect([Image.new("RGB", (100, 100))])[0]
    # person 0.65 < 0.7 dropped; the thin person (3 px wide) is below the minimum size; cat 0.3 < 0.35.
    assert [(obj.label, obj.confidence) for obj in found] == [("dog", 0.65), ("cat", 0.4)]
    capped = fixed_detector(model, score_threshold=0.0, max_detections=2).detect([Image.new("RGB", (100, 100))])[0]
    assert [obj.confidence for obj in capped] == [0.99, 0.65]


def test_boxes_come_back_in_original_coordinates_as_corner_plus_span():
    model = FixedOutputModel([[10.4, 20.6, 30.2, 60.0]], [0.9], [COCO.index("dog")])
    detector = fixed_detector(model)
    # A 100x80 image standing in for a 400x320 original: boxes scale by 4.
    found = detector.detect([Image.new("RGB", (100, 80))], original_sizes=[(400, 320)])[0]
    assert found[0].box == Box(x=42, y=82, width=79, height=158)
    assert found[0].box.normalized(400, 320) == pytest.approx(
        {"x": 42 / 400, "y": 82 / 320, "width": 79 / 400, "height": 158 / 320}
    )


def test_boxes_are_clamped_to_the_image():
    model = FixedOutputModel([[-5, -5, 500, 500]], [0.9], [COCO.index("dog")])
    found = fixed_detector(model).detect([Image.new("RGB", (100, 80))])[0]
    assert found[0].box == Box(x=0, y=0, width=100, height=80)


def test_one_forward_pass_for_a_batch():
    model = FixedOutputModel([[0, 0, 10, 10]], [0.9], [COCO.index("dog")])
    results = fixed_detector(model).detect([Image.new("RGB", (50, 40)), Image.new("RGB", (30, 60))])
    assert len(results) == 2 and len(model.inputs) == 2
    assert [tuple(t.shape) for t in model.inputs] == [(3, 40, 50), (3, 60, 30)]


def test_missing_weights_offline_names_the_commands(tmp_path):
    with pytest.raises(WeightsMissingError) as error:
        load_detector(DetectorConfig(model="fasterrcnn_mobilenet_v3_large_fpn", device="cpu",
                                     weights_dir=tmp_path, allow_download=False))
    message = str(error.value)
    assert "python manage.py download_weights fasterrcnn_mobilenet_v3_large_fpn" in message
    assert "python manage.py import_weights fasterrcnn_mobilenet_v3_large_fpn" in message
    assert str(tmp_path) in message


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="fasterrcnn_resnet50_fpn_v2"):
        load_detector(DetectorConfig(model="yolo_v99", device="cpu"))


def test_import_weights_refuses_a_file_that_is_not_the_official_one(tmp_path):
    fake = tmp_path / "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth"
    torch.save({"not": torch.zeros(1)}, fake)
    with pytest.raises(CheckpointError, match="not the official weights"):
        import_weights("fasterrcnn_mobilenet_v3_large_fpn", fake, tmp_path / "weights")
    assert not (tmp_path / "weights" / "checkpoints").exists() or not any((tmp_path / "weights").rglob("*.pth"))


def test_unreadable_cached_weights_say_what_to_do(tmp_path):
    weights = coco_weights_for("fasterrcnn_mobilenet_v3_large_fpn")
    cached = tmp_path / "checkpoints" / Path(weights.url).name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.raises(WeightsMissingError, match="Delete it"):
        load_detector(DetectorConfig(model="fasterrcnn_mobilenet_v3_large_fpn", device="cpu", weights_dir=tmp_path,
                                     allow_download=False))


# --- checkpoints --------------------------------------------------------------------------------


def tiny_checkpoint(path: Path, **overrides: object) -> Path:
    model = build_architecture("fasterrcnn_tiny", num_classes=len(CATEGORIES))
    arguments = {"model": model, "architecture": "fasterrcnn_tiny", "categories": CATEGORIES}
    arguments.update(overrides)
    save_checkpoint(path, **arguments)  # type: ignore[arg-type]
    return path


def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    path = tiny_checkpoint(tmp_path / "mine.pt", metadata={"note": "test"})
    checkpoint = read_checkpoint(path)
    assert checkpoint.categories == CATEGORIES and checkpoint.metadata == {"note": "test"}
    first = load_detector(DetectorConfig(model=str(path), device="cpu", score_threshold=0.0))
    second = load_detector(DetectorConfig(model=str(path), device="cpu", score_threshold=0.0))
    image = make_scene(random.Random(3)).image
    assert first.detect([image]) == second.detect([image])
    assert first.weights_identity.startswith("mine.pt sha256:")
    assert "fasterrcnn_tiny" in first.model_name


def test_checkpoint_that_does_not_exist(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_detector(DetectorConfig(model=str(tmp_path / "nope.pt"), device="cpu"))


def test_checkpoint_that_is_not_a_torch_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


def test_checkpoint_that_is_a_bare_state_dict(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(build_architecture("fasterrcnn_tiny", num_classes=4).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a detector checkpoint"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


def test_checkpoint_with_the_wrong_architecture(tmp_path):
    path = tiny_checkpoint(tmp_path / "wrong.pt", architecture="fasterrcnn_mobilenet_v3_large_fpn")
    with pytest.raises(CheckpointError, match="do not fit architecture 'fasterrcnn_mobilenet_v3_large_fpn'"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


def test_checkpoint_with_the_wrong_number_of_categories(tmp_path):
    path = tiny_checkpoint(tmp_path / "cats.pt", categories=[*CATEGORIES, "hexagon"])
    with pytest.raises(CheckpointError, match="5 categories"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


def test_checkpoint_with_an_unknown_architecture(tmp_path):
    path = tiny_checkpoint(tmp_path / "odd.pt", architecture="resnet_of_dreams")
    with pytest.raises(CheckpointError, match="Unknown detection architecture 'resnet_of_dreams'"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "assetsite.detector", "payload": Path("/etc/passwd")}, path)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_detector(DetectorConfig(model=str(path), device="cpu"))


# --- the shipped shapes detector ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes_detector() -> Detector:
    return load_detector(DetectorConfig(model=str(SHAPES_CHECKPOINT), device="cpu", score_threshold=0.05))


def test_shipped_checkpoint_is_small_and_in_the_user_format():
    assert SHAPES_CHECKPOINT.stat().st_size < 5_000_000
    checkpoint = read_checkpoint(SHAPES_CHECKPOINT)
    assert checkpoint.categories == CATEGORIES
    assert checkpoint.architecture == "fasterrcnn_tiny"


def test_shipped_detector_reaches_its_accuracy_on_fresh_scenes(shapes_detector):
    # A fresh seed every run: this is not a memorised set. The README reports 500 scenes.
    test_scenes = scenes(random.randrange(10**9), 80)
    predictions = [
        [Prediction(o.label, o.confidence, (o.box.x, o.box.y, o.box.x + o.box.width, o.box.y + o.box.height))
         for o in found]
        for found in shapes_detector.detect([scene.image for scene in test_scenes])
    ]
    scores = mean_average_precision([scene.shapes for scene in test_scenes], predictions)
    assert scores["mAP"] >= 0.85, scores


def test_empty_scene_gives_no_confident_objects(shapes_detector):
    blank = Image.new("RGB", (320, 240), (120, 130, 140))
    assert [obj for obj in shapes_detector.detect([blank])[0] if obj.confidence >= 0.5] == []
