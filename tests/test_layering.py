"""The two apps meet in shared modules, never in each other's views: planner imports nothing of
clusters, clusters none of planner's page views or routes, and what both pages need (role
checks, htmx answers, the dashboard) lives in railstudio.web. Read from the source with ast, so
a local import inside a function counts too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANNER_VIEWS = {
    "planner.views",
    "planner.manifest_views",
    "planner.urls",
    "planner.manifest_urls",
    "planner.api.views",
    "planner.api.manifests",
    "planner.api.urls",
    "planner.api.manifest_urls",
}
CLUSTERS_VIEWS = {
    "clusters.views",
    "clusters.pod_views",
    "clusters.discovery_views",
    "clusters.lint_views",
    "clusters.validation_pages",
}


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, `from a import b` read as both `a` and `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offenders(package: str, forbidden, skip_routes: bool = False) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts or (skip_routes and path.name.endswith("urls.py")):
            continue
        for name in sorted(imported_modules(path)):
            if forbidden(name):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def test_planner_imports_nothing_of_clusters():
    assert offenders("planner", lambda name: name.split(".")[0] == "clusters") == []


def test_clusters_imports_no_planner_view_or_route():
    assert offenders("clusters", lambda name: name in PLANNER_VIEWS) == []


def test_shared_web_helpers_import_no_app_view():
    """Only the project's routes name the apps' views."""

    def is_view(name: str) -> bool:
        return name in PLANNER_VIEWS or name in CLUSTERS_VIEWS

    assert offenders("railstudio", is_view, skip_routes=True) == []


def test_cluster_view_modules_do_not_import_each_other_in_a_cycle():
    """discovery_views, pod_views and validation_pages share clusters.panels, not clusters.views."""
    assert offenders("clusters", lambda name: name == "clusters.views", skip_routes=True) == []


def test_the_walk_sees_plain_from_and_local_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "import clusters.kube\nfrom planner import views\n"
        "def f():\n    from clusters.views import get_cluster\n"
    )
    names = imported_modules(source)
    assert {"clusters.kube", "planner.views", "clusters.views"} <= names
