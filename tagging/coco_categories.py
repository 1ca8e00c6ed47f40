"""The COCO category names the stock torchvision detectors use, without importing torch.

Web requests must not load torch, so the list is written out here; a test checks that it equals
``FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1.meta["categories"]``.
"""

from __future__ import annotations

# In torchvision's order, including the "__background__" and "N/A" placeholders, so that the
# index of a name is the class id the model returns.
COCO_CATEGORIES: tuple[str, ...] = (
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
    "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet",
    "N/A", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# The 80 real object names (placeholders dropped), which search treats as known labels.
COCO_LABELS: frozenset[str] = frozenset(name for name in COCO_CATEGORIES if name not in {"__background__", "N/A"})
