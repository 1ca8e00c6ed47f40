"""Forms behind the review pages: add a tag (with an optional box), review a detection, bulk actions.

The checks themselves are ``review.validation``'s, shared with the API's serializers.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings

from media.models import Asset
from review.validation import (
    BULK_ACTIONS,
    LABEL_TOO_LONG,
    MAX_SIDE,
    InvalidInput,
    box_check,
    label_action_problem,
    label_clean,
)
from tagging.boxes import Box
from tagging.labels import LABEL_MAX_LENGTH


class LabelField(forms.CharField):
    """A label as stored: trimmed, lower-case, single spaces; at most 100 characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": "Type a label."})
        super().__init__(max_length=LABEL_MAX_LENGTH, **kwargs)
        self.error_messages["max_length"] = LABEL_TOO_LONG

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text.strip() and not self.required:
            return ""
        try:
            return label_clean(text)
        except InvalidInput as problem:
            code = "required" if problem.code == "blank" else problem.code
            raise forms.ValidationError(problem.message, code=code) from None


def _box_field(name: str, description: str, minimum: int) -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=minimum,
        max_value=MAX_SIDE,
        error_messages={
            "invalid": f"The box's {description} ({name}) must be a whole number of pixels.",
            "min_value": f"The box's {description} ({name}) must be at least {minimum}.",
            "max_value": f"The box's {description} ({name}) is far larger than any image.",
        },
    )


class ManualTagForm(forms.Form):
    """A tag a person adds; the box (pixels of the upright image) is optional, but all or nothing."""

    label = LabelField()
    x = _box_field("x", "left edge", 0)
    y = _box_field("y", "top edge", 0)
    width = _box_field("width", "width", 1)
    height = _box_field("height", "height", 1)

    BOX_FIELDS = ("x", "y", "width", "height")

    def __init__(self, *args: Any, asset: Asset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asset = asset

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if any(name in self.errors for name in self.BOX_FIELDS):
            return data
        values = [data.get(name) for name in self.BOX_FIELDS]
        given = [value is not None for value in values]
        if any(given) and not all(given):
            missing = [name for name, present in zip(self.BOX_FIELDS, given, strict=True) if not present]
            verb = "is" if len(missing) == 1 else "are"
            # On the first missing field, so the page marks it.
            self.add_error(
                missing[0],
                forms.ValidationError(
                    f"A box needs x, y, width and height; {', '.join(missing)} {verb} missing. "
                    "Fill in all four, or none for a tag without a box.",
                    code="box_incomplete",
                ),
            )
            return data
        data["box"] = None
        if all(given):
            box = Box(*values)  # type: ignore[arg-type]
            try:
                box_check(box, width=self.asset.width, height=self.asset.height)
            except InvalidInput as problem:
                self.add_error(problem.field, forms.ValidationError(problem.message, code=problem.code))
                return data
            data["box"] = box
        return data


class DetectionReviewForm(forms.Form):
    ACTIONS = {"accept": "Accept", "reject": "Reject", "relabel": "Relabel", "remove": "Remove"}

    action = forms.ChoiceField(
        choices=list(ACTIONS.items()),
        error_messages={
            "invalid_choice": "Unknown action; use accept, reject, relabel or remove.",
            "required": "Choose accept, reject, relabel or remove.",
        },
    )
    label = LabelField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "relabel" and not data.get("label"):
            self.add_error("label", forms.ValidationError("Type the new label.", code="required"))
        return data


class UUIDListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[uuid.UUID]:
        if not value:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        ids: list[uuid.UUID] = []
        for item in values:
            try:
                ids.append(uuid.UUID(str(item)))
            except ValueError:
                raise forms.ValidationError(
                    "%(value)s is not an image id.", code="invalid", params={"value": str(item)[:60]}
                ) from None
        return list(dict.fromkeys(ids))


class SelectionForm(forms.Form):
    """The images a form acts on: ticked ones (``ids``), or every image matching the library's search
    (``matching`` with ``search``, the library page's query string) however many are loaded."""

    ids = UUIDListField(required=False)
    matching = forms.BooleanField(required=False)
    search = forms.CharField(required=False, max_length=4000)

    def clean_ids(self) -> list[uuid.UUID]:
        ids: list[uuid.UUID] = self.cleaned_data["ids"]
        if len(ids) > settings.BULK_MAX_ASSETS:
            raise forms.ValidationError(
                f"Select at most {settings.BULK_MAX_ASSETS} images at a time.", code="too_many_assets"
            )
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("matching") and not data.get("ids") and "ids" not in self.errors:
            self.add_error("ids", forms.ValidationError("Select one or more images first.", code="required"))
        return data


class BulkActionForm(SelectionForm):
    ACTIONS = BULK_ACTIONS

    action = forms.ChoiceField(
        choices=list(ACTIONS.items()),
        error_messages={
            "invalid_choice": "Unknown action; use add tag, remove tag, re-tag or delete.",
            "required": "Choose an action.",
        },
    )
    label = LabelField(required=False)
    confirm = forms.BooleanField(required=False)

    field_order = ["action", "ids", "matching", "search", "label", "confirm"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        problem = label_action_problem(data.get("action") or "", data.get("label") or "")
        if problem:
            self.add_error("label", forms.ValidationError(problem, code="required"))
        return data
