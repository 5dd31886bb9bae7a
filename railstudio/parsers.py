"""Request body parsers for the API: bounded in size, depth and alias expansion (datalimits).

The size limit is settings.MAX_BODY_BYTES (RAILSTUDIO_MAX_BODY_BYTES), the same one the pages'
uploads use; BodySizeLimitMiddleware refuses a larger declared body before any parser runs, and
these parsers never read more than the limit either way.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from railstudio import datalimits


def read_bounded(stream) -> bytes:
    if stream is None:
        return b""
    limit = settings.MAX_BODY_BYTES
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ParseError(f"The request body is larger than {limit} bytes.")
    return data


class SafeJSONParser(JSONParser):
    """JSON with a nesting limit and no NUL characters (PostgreSQL stores neither in text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_bounded(stream)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The JSON body is not UTF-8 text.") from None
        try:
            data = datalimits.load_json(text)
        except datalimits.LimitError as error:
            raise ParseError(f"JSON parse error: {error}.") from None
        if datalimits.find_nul(data):
            raise ParseError("Text in the body may not contain NUL (\\u0000) characters.")
        return data


class TextParser(BaseParser):
    """A YAML or plain-text body handed to the view as a string (plan documents, pasted specs)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return read_bounded(stream).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8 text.") from None


class YamlTextParser(TextParser):
    media_type = "application/yaml"


class PlainTextParser(TextParser):
    media_type = "text/*"
