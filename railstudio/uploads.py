"""Uploaded files as text, within the one body-size limit (settings.MAX_BODY_BYTES) that the
API parsers and every page share."""

from django.conf import settings


class UploadError(ValueError):
    """A file that cannot be read as text; the message says why."""


def limit_text() -> str:
    limit = settings.MAX_BODY_BYTES
    return f"{limit // 2**20} MB" if limit % 2**20 == 0 else f"{limit} bytes"


def upload_text(upload) -> str:
    """The upload as UTF-8 text, or UploadError: too large, not UTF-8, or binary (NULs)."""
    limit = settings.MAX_BODY_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadError(f"The file is larger than {limit_text()}.")
    raw = upload.read(limit + 1)
    if len(raw) > limit:
        raise UploadError(f"The file is larger than {limit_text()}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadError("The file is not UTF-8 text.") from None
    if "\x00" in text:
        raise UploadError("The file holds NUL characters: is it a binary file?")
    return text
