"""The checks every human write goes through, whether it comes from a page's form or the API.

Forms (``review.forms``) and serializers (``review.api``) only translate ``InvalidInput`` into their
own error types, so a label or a box is judged the same way everywhere.
"""

from __future__ import annotations

from tagging.boxes import Box
from tagging.labels import LABEL_MAX_LENGTH, normalize_label

# Larger than any image ASSET_MAX_PIXELS lets in; keeps integers in the box columns' range.
MAX_SIDE = 1_000_000

BULK_ACTIONS: dict[str, str] = {"add_tag": "Add tag", "remove_tag": "Remove tag", "retag": "Re-tag", "delete": "Delete"}
# Bulk actions that need a label.
LABEL_ACTIONS = frozenset({"add_tag", "remove_tag"})


class InvalidInput(ValueError):
    """Input a person must correct. ``field`` names the input at fault where there is one."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


LABEL_TOO_LONG = f"A label has at most {LABEL_MAX_LENGTH} characters."


def label_clean(text: str) -> str:
    """The label as it is stored (trimmed, lower-case, single spaces)."""
    if len(text) > LABEL_MAX_LENGTH:  # checked before normalize_label, which would cut it to size
        raise InvalidInput(LABEL_TOO_LONG, code="max_length")
    name = normalize_label(text)
    if not name:
        raise InvalidInput("Type a label.", code="blank")
    return name


def box_check(box: Box, *, width: int, height: int) -> None:
    """A box (pixels of the upright image) must lie inside the image."""
    if box.x + box.width > width or box.y + box.height > height:
        raise InvalidInput(
            f"The box ({box.x}, {box.y}, {box.width}×{box.height}) does not fit in the {width}×{height} image: "
            "x + width must be at most the image's width and y + height at most its height.",
            code="box_outside_image",
            field="width" if box.x + box.width > width else "height",
        )


def label_action_problem(action: str, label: str) -> str | None:
    """What is missing for a bulk action that needs a label, for people."""
    if action in LABEL_ACTIONS and not label:
        return f"Type the tag to {'add' if action == 'add_tag' else 'remove'}."
    return None
