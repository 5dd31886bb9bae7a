"""The pages' forms are the API's serializers (railstudio.web.forms): a posted checkbox becomes
a boolean, a repeated field a list, and the template reads values and errors by field name."""

from django.http import QueryDict
from django.template import Context, Template

from clusters.api.serializers import RollbackRequestSerializer, RolloutRequestSerializer
from railstudio.web.forms import PageForm, posted


def test_posted_turns_a_form_into_the_api_input():
    post = QueryDict("prune=on&force=off&reason=+why+&plans=a&plans=b&other=x")
    data = posted(post, booleans=("prune", "force", "dry_run"), lists=("plans",), texts=("reason",))
    assert data == {
        "prune": True,
        "force": False,
        "dry_run": False,
        "plans": ["a", "b"],
        "reason": " why ",
    }


def test_a_page_form_gives_the_serializers_errors_by_field():
    form = PageForm(
        RollbackRequestSerializer(data=posted(QueryDict("force=on"), booleans=("force", "prune")))
    )
    assert not form.is_valid()
    assert form["reason"].errors == [
        "Pruning or forcing a rollback needs a reason, for the audit record."
    ]
    assert form["force"].value is True and form["prune"].value is False
    form.add_error(None, "Something else went wrong.")
    html = Template(
        "{% for e in form.non_field_errors %}[{{ e }}]{% endfor %}"
        "{% for e in form.reason.errors %}<{{ e }}>{% endfor %}{{ form.missing.value|default:'-' }}"
    ).render(Context({"form": form}))
    assert html.startswith("[Something else went wrong.]<Pruning or forcing")
    assert html.endswith("-")


def test_the_page_and_the_api_take_the_same_reasons():
    long = "x" * 2001
    form = PageForm(
        RolloutRequestSerializer(
            data=posted(
                QueryDict(f"force=on&force_reason={long}"),
                booleans=("force",),
                texts=("force_reason", "plan"),
            )
        )
    )
    assert not form.is_valid()
    assert form["plan"].errors == ["Choose the plan to roll out."]
    assert "no more than 2000 characters" in form["force_reason"].errors[0]
