"""The form labels are stored in, shared by the pipeline, review and search."""

from __future__ import annotations

LABEL_MAX_LENGTH = 100


def normalize_label(name: str) -> str:
    """Lower-case with single spaces, at most LABEL_MAX_LENGTH characters."""
    return " ".join(name.strip().lower().split())[:LABEL_MAX_LENGTH]
