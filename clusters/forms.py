"""Page forms: they parse and check what a person typed; clusters.services does the real work
(and words most errors, so the page and the API say the same thing)."""

from __future__ import annotations

from django import forms

from clusters import kubeconfigs
from clusters.models import ClusterMode
from planner.models import Plan
from railstudio import numbers

KUBECONFIG_MAX_BYTES = 1024 * 1024
FORCE_REASON_NEEDED = "Forcing past preflight errors needs a reason, for the audit record."
ADOPT_REASON_NEEDED = (
    "Taking over objects Rail Studio did not make needs a reason, for the audit record."
)
ROLLBACK_REASON_NEEDED = "Pruning or forcing a rollback needs a reason, for the audit record."


def read_upload(upload) -> str:
    """The text of an uploaded kubeconfig, or ValidationError."""
    if upload.size > KUBECONFIG_MAX_BYTES:
        raise forms.ValidationError("A kubeconfig larger than 1 MB is not a kubeconfig.")
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise forms.ValidationError("The file is not UTF-8 text (is it a kubeconfig?).") from None


def kubeconfig_text(data, files) -> tuple[str, dict[str, str]]:
    """The kubeconfig from an upload (preferred) or the text box; errors by field."""
    upload = files.get("kubeconfig_file")
    if upload is None:
        return data.get("kubeconfig", ""), {}
    try:
        return read_upload(upload), {}
    except forms.ValidationError as error:
        return "", {"kubeconfig_file": error.messages[0]}


def context_names(text: str) -> tuple[list[str], str]:
    """(contexts, current context) of a kubeconfig; KubeconfigError when it is not one."""
    config = kubeconfigs.load(text)
    return kubeconfigs.contexts(config), kubeconfigs.current_context(config)


class ClusterForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
    description = forms.CharField(required=False)
    kubeconfig = forms.CharField(required=False, strip=False)
    kubeconfig_file = forms.FileField(required=False)
    context = forms.CharField(max_length=253, required=False)
    in_cluster = forms.BooleanField(required=False)
    mode = forms.ChoiceField(choices=ClusterMode.choices, initial=ClusterMode.NAD)
    plans = forms.ModelMultipleChoiceField(Plan.objects.all(), required=False, to_field_name="slug")

    def clean_kubeconfig_file(self):
        upload = self.cleaned_data.get("kubeconfig_file")
        return read_upload(upload) if upload else ""

    def registration(self) -> dict:
        """Keyword arguments for services.register."""
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "description": data["description"],
            "kubeconfig": data["kubeconfig_file"] or data["kubeconfig"],
            "context": data["context"],
            "in_cluster": data["in_cluster"],
            "mode": data["mode"],
        }


class RolloutOptionsForm(forms.Form):
    dry_run = forms.BooleanField(required=False)
    prune = forms.BooleanField(required=False)
    force = forms.BooleanField(required=False)
    force_reason = forms.CharField(required=False, max_length=1000)
    adopt = forms.BooleanField(required=False)
    adopt_reason = forms.CharField(required=False, max_length=1000)

    def clean(self):
        data = super().clean()
        if data.get("force") and not data.get("force_reason", "").strip():
            self.add_error("force_reason", FORCE_REASON_NEEDED)
        if data.get("adopt") and not data.get("adopt_reason", "").strip():
            self.add_error("adopt_reason", ADOPT_REASON_NEEDED)
        return data

    def options(self) -> dict:
        keys = ("dry_run", "prune", "force", "force_reason", "adopt", "adopt_reason")
        return {key: self.cleaned_data[key] for key in keys}


class RollbackForm(forms.Form):
    """Rolling back re-applies a stored bundle; pruning or forcing is a choice, with a reason."""

    prune = forms.BooleanField(required=False)
    force = forms.BooleanField(required=False)
    reason = forms.CharField(required=False, max_length=1000)

    def clean(self):
        data = super().clean()
        if (data.get("prune") or data.get("force")) and not data.get("reason", "").strip():
            self.add_error("reason", ROLLBACK_REASON_NEEDED)
        return data

    def options(self) -> dict:
        return {key: self.cleaned_data[key] for key in ("prune", "force", "reason")}


class ClusterRolloutForm(RolloutOptionsForm):
    """Roll out one plan to the cluster whose page this is."""

    plan = forms.ModelChoiceField(
        Plan.objects.all(),
        to_field_name="slug",
        error_messages={
            "required": "Choose the plan to roll out.",
            "invalid_choice": "No plan '%(value)s'.",
        },
    )


class PlanRolloutForm(RolloutOptionsForm):
    """Roll the plan whose page this is out to one cluster (its id) or to all bound ones."""

    cluster = forms.CharField(
        error_messages={"required": "Choose a cluster, or all bound clusters."}
    )

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan

    def clean_cluster(self) -> list:
        value = self.cleaned_data["cluster"].strip()
        if value == "all":
            clusters = list(self.plan.clusters.all())
            if not clusters:
                raise forms.ValidationError(
                    "The plan is bound to no cluster; bind one on the cluster's page."
                )
            return clusters
        cluster = self.plan.clusters.filter(pk=value).first() if numbers.is_id(value) else None
        if cluster is None:
            raise forms.ValidationError(f"No cluster '{value}' is bound to this plan.")
        return [cluster]


class BindForm(forms.Form):
    plan = forms.ModelChoiceField(
        Plan.objects.all(),
        to_field_name="slug",
        error_messages={
            "required": "Choose a plan to bind.",
            "invalid_choice": "No plan '%(value)s'.",
        },
    )
