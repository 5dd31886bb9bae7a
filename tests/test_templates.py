"""Template and stylesheet conventions: every fragment in a partials/ folder, stylesheets in the
head block, API URLs from {% url %}, and each CSS rule written once."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static" / "railstudio"
STYLESHEET = re.compile(r'<link rel="stylesheet"[^>]*>')
HEAD_BLOCK = re.compile(r"{% block head %}.*?{% endblock[^%]*%}", re.S)


def templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_fragments_live_in_partials_folders():
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in templates()
        if "includes" in path.parts or path.name.startswith("_")
    ]
    assert offenders == []


def test_stylesheets_are_linked_in_the_head_block():
    offenders = []
    for path in templates():
        text = path.read_text()
        if '{% extends "base.html" %}' in text or path.parent.name == "partials":
            outside = HEAD_BLOCK.sub("", text)
            offenders += [f"{path.relative_to(TEMPLATES)}" for _ in STYLESHEET.findall(outside)]
    assert offenders == []
    assert "{% block head %}" in (TEMPLATES / "base.html").read_text()


def test_no_template_spells_an_api_url_out():
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in templates()
        if "drf_spectacular" not in path.parts and "/api/" in path.read_text()
    ]
    assert offenders == []


def top_level_rules(css: str) -> list[str]:
    """Selectors of the rules outside @media and other at-rules."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors, depth, start = [], 0, 0
    for index, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selectors.append(" ".join(css[start:index].split()))
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                start = index + 1
    return [selector for selector in selectors if not selector.startswith("@")]


def test_each_css_rule_is_written_once():
    seen: dict[str, str] = {}
    repeated = []
    for path in sorted(STATIC.glob("*.css")):
        if path.name == "swagger.css":  # the API docs page, without studio.css
            continue
        for selector in top_level_rules(path.read_text()):
            if selector in seen:
                repeated.append(f"{selector}: {seen[selector]} and {path.name}")
            seen.setdefault(selector, path.name)
    assert repeated == []


def test_the_rule_reader_sees_repeats_and_skips_media_blocks():
    css = ".a { x: 1 } @media (max-width: 9px) { .a { x: 2 } } /* .b { } */ .c, .d { y: 1 }"
    assert top_level_rules(css) == [".a", ".c, .d"]
