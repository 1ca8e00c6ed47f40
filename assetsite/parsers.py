"""Request parsers for the API."""

from __future__ import annotations

from typing import Any

from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import ParseError

FILE_NAME_TOO_LONG = (
    "A file name in the upload is too long: the form headers of one file may take at most 1,024 bytes "
    "(about 200 characters of an accented or non-Latin name). Rename the file and upload it again."
)


def is_header_size_error(error: BaseException) -> bool:
    """Django refuses a multipart part whose headers exceed 1 KB; in practice a very long file name."""
    return isinstance(error, MultiPartParserError) and "header size" in str(error)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but JSON nested deeper than Python's recursion limit is a 400, not a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, with a message that says what to do about an overlong file name."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError as error:
            if is_header_size_error(error.__context__):  # DRF re-raises Django's error as a ParseError
                raise ParseError(FILE_NAME_TOO_LONG, code="file_name_too_long") from None
            raise
