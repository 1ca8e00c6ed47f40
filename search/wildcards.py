"""File-name wildcards (``*``, ``?``) as an escaped, case-insensitive ``LIKE`` on every backend.

A regular expression here backtracks: ``*a*a*a*a*a*a*a*a*a*b`` against a name of 40 a's ran for
minutes on SQLite, where Django evaluates ``__iregex`` with Python's ``re`` inside the query.
``LIKE`` needs no backtracking on either database (SQLite and PostgreSQL stop at the first ``%``
that cannot match), so the same pattern answers in microseconds.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q
from django.db.models.lookups import IContains, PatternLookup

# Both entry points (filename: in the query language, ?filename= in the filters) refuse longer
# patterns: no stored name is longer (media.models.Asset.original_filename is 255 characters).
MAX_FILENAME_PATTERN = 255


class _IWildcard(IContains):
    """``icontains``'s SQL (its case folding and ESCAPE clause per backend) for a whole-name pattern:
    the text is escaped as for ``icontains``, then ``*``/``?`` become ``%``/``_`` and nothing is
    added around it."""

    def process_rhs(self, qn: Any, connection: Any) -> tuple[str, list[Any]]:
        rhs, params = super(PatternLookup, self).process_rhs(qn, connection)  # no %…% around it
        if self.rhs_is_direct_value() and params:
            escaped = connection.ops.prep_for_like_query(params[0])  # \ % _ become literal
            params[0] = escaped.replace("*", "%").replace("?", "_")
        return rhs, params


def filename_q(pattern: str) -> Q:
    """Assets whose uploaded name contains ``pattern`` (case-insensitive), or, when it has ``*`` or
    ``?``, whose whole name matches it."""
    if "*" not in pattern and "?" not in pattern:
        return Q(original_filename__icontains=pattern)
    return Q(_IWildcard(F("original_filename"), pattern))
