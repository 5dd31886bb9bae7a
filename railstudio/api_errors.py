from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus model ValidationError -> 400 {field: [..]} and IntegrityError -> 409."""
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = ValidationError(detail)
    from clusters.services import QueueUnavailable

    if isinstance(exc, QueueUnavailable):
        return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, IntegrityError):
        return Response(
            {"detail": f"Conflicts with existing data: {exc}"}, status=status.HTTP_409_CONFLICT
        )
    return response
