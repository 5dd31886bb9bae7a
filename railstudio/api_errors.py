from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from railstudio import db_errors


def exception_handler(exc, context):
    """DRF's handler, plus model ValidationError -> 400 {field: [..]}, IntegrityError -> 409 and
    DataError -> 400, both in human words (railstudio.db_errors), never the database's text."""
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = ValidationError(detail)
    from railstudio.queueing import QueueUnavailable

    if isinstance(exc, QueueUnavailable):
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, IntegrityError | DataError):
        refusal = db_errors.describe(exc)
        code = (
            status.HTTP_409_CONFLICT
            if isinstance(exc, IntegrityError)
            else status.HTTP_400_BAD_REQUEST
        )
        return Response({"detail": refusal.message}, status=code)
    return response
