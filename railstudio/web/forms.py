"""Page forms over the API's serializers: every rule has one home, and a page says what the API
says.

A page posts HTML form fields. `posted` turns them into the JSON the API takes (a checkbox
becomes a boolean, a repeated field a list); the API's serializer (or a page's own, built on
the same fields) validates it; PageForm keeps what the person typed and the errors by field for
the template: `form.<field>.value`, `form.<field>.errors`, `form.non_field_errors`. Pages that
draw their fields from a list (the planner's) describe them with FieldSpec and `bind` them to
the typed values and the errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOT_CHECKED = {"", "0", "false", "off", "no"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"  # text | number | textarea | select
    help: str = ""
    placeholder: str = ""
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BoundField:
    spec: FieldSpec
    value: str
    errors: list[str]


def bind(specs, data: dict, errors: dict) -> list[BoundField]:
    return [
        BoundField(
            spec, str(data.get(spec.name) or ""), [str(e) for e in errors.get(spec.name, [])]
        )
        for spec in specs
    ]


def other_errors(specs, errors: dict) -> list[str]:
    """Errors of fields the form does not show (e.g. the derived slug), named."""
    shown = {spec.name for spec in specs}
    return [
        f"{name.replace('_', ' ')}: {message}"
        for name, messages in errors.items()
        if name not in shown
        for message in messages
    ]


def typed(post, names) -> dict:
    """The user's input, trimmed, exactly as typed (what the form shows again on error)."""
    return {name: post.get(name, "").strip() for name in names if name in post}


def posted(post, *, booleans=(), lists=(), texts=()) -> dict:
    """The serializer's input from a POST: checkboxes as booleans (absent: unchecked), `lists`
    as lists, `texts` as posted (only those sent, so a serializer default applies)."""
    data: dict = {name: post.get(name, "").strip().lower() not in NOT_CHECKED for name in booleans}
    data.update({name: post.getlist(name) for name in lists})
    data.update({name: post[name] for name in texts if name in post})
    return data


@dataclass(frozen=True)
class BoundValue:
    value: object
    errors: list[str] = field(default_factory=list)


class PageForm:
    """What the page shows of one form: the values as typed, and the errors by field."""

    def __init__(self, serializer=None, typed: dict | None = None):
        self.serializer = serializer
        self.typed = dict(typed if typed is not None else getattr(serializer, "initial_data", {}))
        self.errors: dict[str, list[str]] = {}

    def is_valid(self) -> bool:
        valid = self.serializer.is_valid()
        for name, messages in self.serializer.errors.items():
            self.add_error(name, messages)
        return valid

    @property
    def cleaned_data(self) -> dict:
        return self.serializer.validated_data

    def add_error(self, name: str | None, messages) -> None:
        if isinstance(messages, dict):  # a nested serializer's errors: "field: message"
            messages = [f"{key}: {text}" for key, texts in messages.items() for text in texts]
        elif isinstance(messages, str):
            messages = [messages]
        key = name or "non_field_errors"
        self.errors.setdefault(key, []).extend(str(message) for message in messages)

    def __getitem__(self, name: str) -> BoundValue:
        # Templates look names up as keys first: the form's own attributes are not fields.
        if name in self.__dict__ or hasattr(type(self), name):
            raise KeyError(name)
        return BoundValue(self.typed.get(name), self.errors.get(name, []))

    @property
    def non_field_errors(self) -> list[str]:
        return self.errors.get("non_field_errors", [])
