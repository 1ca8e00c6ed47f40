"""How words in a query become labels: synonyms, plurals and the searcher's vocabulary.

Stored labels are in ``tagging.labels.normalize_label`` form (lower case, single spaces); this module adds
what a searcher may type instead: ``Dogs`` -> dog, ``people`` -> person, ``sofa`` -> couch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from tagging.coco_categories import COCO_LABELS
from tagging.labels import normalize_label

# Other words for COCO labels. Every target must be a COCO name (a test checks).
SYNONYMS: dict[str, str] = {
    # people
    "people": "person", "man": "person", "woman": "person", "kid": "person", "child": "person",
    "boy": "person", "girl": "person", "baby": "person", "human": "person", "adult": "person",
    "guy": "person", "lady": "person", "toddler": "person", "pedestrian": "person",
    # animals
    "puppy": "dog", "doggy": "dog", "doggie": "dog", "hound": "dog",
    "kitten": "cat", "kitty": "cat",
    "pony": "horse", "foal": "horse", "lamb": "sheep", "cattle": "cow", "bull": "cow", "calf": "cow",
    # vehicles
    "automobile": "car", "sedan": "car", "bike": "bicycle", "cycle": "bicycle",
    "motorbike": "motorcycle", "plane": "airplane", "aeroplane": "airplane", "aircraft": "airplane",
    "jet": "airplane", "lorry": "truck", "ship": "boat", "sailboat": "boat", "yacht": "boat",
    "canoe": "boat", "kayak": "boat", "coach": "bus",
    # street
    "stoplight": "traffic light", "traffic signal": "traffic light", "hydrant": "fire hydrant",
    # things
    "television": "tv", "telly": "tv", "tv set": "tv",
    "phone": "cell phone", "cellphone": "cell phone", "mobile": "cell phone", "mobile phone": "cell phone",
    "smartphone": "cell phone", "iphone": "cell phone",
    "sofa": "couch", "settee": "couch", "table": "dining table", "plant": "potted plant",
    "houseplant": "potted plant", "fridge": "refrigerator", "doughnut": "donut", "hotdog": "hot dog",
    "hairdryer": "hair drier", "hair dryer": "hair drier", "teddy": "teddy bear", "teddybear": "teddy bear",
    "ball": "sports ball", "football": "sports ball", "soccer ball": "sports ball", "racket": "tennis racket",
    "racquet": "tennis racket", "purse": "handbag", "bag": "handbag", "luggage": "suitcase", "ski": "skis",
    "scissor": "scissors", "mug": "cup", "wineglass": "wine glass", "rucksack": "backpack",
    "remote control": "remote", "computer mouse": "mouse", "notebook computer": "laptop",
}  # fmt: skip

# Plurals that do not end in a plain -s / -es / -ies / -ves.
IRREGULAR_PLURALS = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox", "cacti": "cactus",
}  # fmt: skip


Vocabulary: TypeAlias = Callable[[set[str]], set[str]]


def coco_vocabulary(candidates: set[str]) -> set[str]:
    return candidates & COCO_LABELS


def _singulars(word: str) -> list[str]:
    found = []
    if word in IRREGULAR_PLURALS:
        found.append(IRREGULAR_PLURALS[word])
    if word.endswith("ies") and len(word) > 4:
        found.append(word[:-3] + "y")
    if word.endswith("ves") and len(word) > 4:
        found += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es") and len(word) > 3:
        found.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        found.append(word[:-1])
    return found


def label_candidates(name: str) -> list[str]:
    """Names ``name`` may stand for, best first: itself, a synonym, singulars, plurals."""
    normalized = normalize_label(name)
    if not normalized:
        return []
    head, _, last = normalized.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms = [normalized] + [prefix + single for single in _singulars(last)]
    candidates: list[str] = []
    for form in forms:
        candidates.append(form)
        if form in SYNONYMS:
            candidates.append(SYNONYMS[form])
    candidates += [normalized + "s", normalized + "es"]
    return list(dict.fromkeys(candidates))


def resolve_label(name: str, known: set[str]) -> tuple[str, bool]:
    """The label ``name`` means and whether it exists; an unknown name stays as typed (normalised)."""
    candidates = label_candidates(name)
    for candidate in candidates:
        if candidate in known:
            return candidate, True
    return (candidates[0] if candidates else ""), False
