"""One JSON error shape for the whole API: {"detail": message, "code": code[, "errors": {field: [...]}]}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ErrorSerializer(serializers.Serializer):
    """The body of every API error (for the schema)."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ApiError(exceptions.APIException):
    """An error with a chosen status, code and message; ``extra`` adds keys to the body (``parameter``),
    ``retry_after`` a Retry-After header."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.extra = extra or {}
        self.wait = retry_after  # DRF's handler turns it into a Retry-After header


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")  # our Http404 messages name no object
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, (dict, list)):
        body: dict[str, Any] = {
            "detail": _first_message(exc.detail),
            "code": "invalid",
            "errors": exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail},
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        body = {"detail": str(exc.detail), "code": codes if isinstance(codes, str) else "error"}
    else:
        body = {"detail": str(response.data.get("detail", response.data)), "code": "error"}
    if isinstance(exc, ApiError):
        body.update(exc.extra)
    response.data = body
    return response
