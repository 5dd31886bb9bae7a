"""Whole numbers from text that comes from outside (URLs, query strings, forms, YAML).

`str.isdigit()` is true for "²" and "٣", which int() then refuses or reads; and int() refuses
text of more than 4,300 digits. These accept ASCII digits of a bounded length only."""

MAX_DIGITS = 18  # below 2**63


def is_id(text) -> bool:
    """Whether `text` is a row id rather than a slug or a name (ids fit in 64 bits)."""
    text = str(text)
    return text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS


def small_int(text, default=None):
    """The whole number in `text` (ASCII digits, at most MAX_DIGITS), else `default`."""
    text = str(text).strip()
    if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
        return int(text)
    return default
