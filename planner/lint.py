"""Lint YAML: read pasted or uploaded objects and run preflight on them, with a plan and cluster
facts as context when given. No I/O beyond the request's own input: the page that reads a live
cluster's facts (clusters.lint_views) passes them in."""

from __future__ import annotations

from planner import findings, plancache, preflight, yamlio
from planner.api.preflight_io import safe_preflight
from planner.models import Plan
from railstudio import numbers, uploads

EXCERPT_LINES = 2


def excerpt(text: str, line: int | None) -> list[tuple[int, str, bool]]:
    """The lines around a 1-based `line`: (number, text, is_the_line)."""
    if not line:
        return []
    lines = text.splitlines()
    line = min(line, len(lines))  # an error at the very end points past the last line
    first, last = max(line - EXCERPT_LINES, 1), min(line + EXCERPT_LINES, len(lines))
    return [(number, lines[number - 1], number == line) for number in range(first, last + 1)]


def read_input(request) -> tuple[str, str | None]:
    """The YAML of the form: the uploaded file's text, else the text box. (text, error)"""
    upload = request.FILES.get("file")
    if upload is None:
        return request.POST.get("yaml", ""), None
    try:
        return uploads.upload_text(upload), None
    except uploads.UploadError as error:
        return "", str(error)


def chosen_plan(key: str) -> tuple[Plan | None, str | None]:
    """The plan picked in the form (by id), or why it cannot be used."""
    if not key:
        return None, None
    plan = Plan.objects.filter(pk=key).first() if numbers.is_id(key) else None
    if plan is None:
        return None, "That plan no longer exists; pick another or none."
    return plan, None


def check(text: str, plan: Plan | None, facts: dict | None) -> dict:
    """Context for the result panel: `objects`, `findings`, `counts` and `checked`; or `error`
    (and `excerpt`) when the input cannot be read."""
    if not text.strip():
        return {"error": "Paste some YAML or choose a file first."}
    try:
        objects = yamlio.load_documents(text)
        found = safe_preflight(objects, plancache.spec(plan) if plan else None, facts)
    except yamlio.YamlInputError as problem:
        return {"error": problem.describe(), "excerpt": excerpt(text, problem.line)}
    return {
        "objects": [preflight.describe(obj, index) for index, obj in enumerate(objects)],
        "findings": found,
        "counts": findings.counts(found),
        "checked": True,
    }
