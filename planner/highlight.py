"""Server-side syntax highlighting with Pygments: YAML (or JSON) text -> HTML.

The HTML is escaped by Pygments, so templates may mark it safe. Styles come from `css()`: token
rules are scoped under the `.highlight` class (or the one given); Pygments adds a few generic
`pre` / line-number rules.
"""

from __future__ import annotations

import html

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer

DEFAULT_CSS_CLASS = "highlight"
# Lexing megabytes of YAML takes seconds; past this size the text is shown plain.
MAX_HIGHLIGHT_CHARS = 400_000

_LEXERS = {"yaml": YamlLexer, "json": JsonLexer}


def highlight(
    text: str,
    language: str = "yaml",
    *,
    linenos: bool = False,
    anchor_prefix: str | None = None,
    css_class: str = DEFAULT_CSS_CLASS,
    max_chars: int = MAX_HIGHLIGHT_CHARS,
) -> str:
    """`text` as highlighted HTML in a `<div class="highlight"><pre>` block.

    With `anchor_prefix`, line N gets the id `<prefix>-N` so findings can link to it."""
    try:
        lexer_class = _LEXERS[language]
    except KeyError:
        raise ValueError(f"language must be one of {', '.join(_LEXERS)}") from None
    if len(text) > max_chars:
        return f'<div class="{html.escape(css_class)}"><pre>{html.escape(text)}</pre></div>'
    formatter = HtmlFormatter(
        cssclass=css_class,
        linenos="table" if linenos else False,
        lineanchors=anchor_prefix or "",
        anchorlinenos=bool(linenos and anchor_prefix),
        wrapcode=True,
    )
    return pygments_highlight(text, lexer_class(), formatter)


def highlight_yaml(text: str, **options) -> str:
    return highlight(text, "yaml", **options)


def css(style: str = "default", css_class: str = DEFAULT_CSS_CLASS) -> str:
    """The stylesheet rules for highlighted blocks."""
    return HtmlFormatter(style=style, cssclass=css_class).get_style_defs(f".{css_class}")
