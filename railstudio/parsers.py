from rest_framework.parsers import BaseParser


class TextParser(BaseParser):
    """A YAML or plain-text body handed to the view as a string (plan documents, pasted specs)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read().decode("utf-8", errors="replace")


class YamlTextParser(TextParser):
    media_type = "application/yaml"


class PlainTextParser(TextParser):
    media_type = "text/*"
