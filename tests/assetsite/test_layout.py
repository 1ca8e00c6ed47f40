"""The layout rules the README promises: apps depend on each other one way, no module-level import
cycles between product modules, and no product module grows past ~600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from testkit.stack import REPO

# Each app may import only the apps before it (and assetsite's plumbing, which imports no app at module level).
ORDER = ["media", "albums", "tagging", "search", "review", "library", "integrations"]
PEERS = {"library": {"integrations"}, "integrations": {"library"}}  # neither may import the other
MAX_LINES = 600


def product_modules() -> list[Path]:
    return sorted(
        path
        for app in ["assetsite", *ORDER]
        for path in (REPO / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions): what makes a cycle at import time."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def all_imports(path: Path) -> set[str]:
    return {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom) and (not isinstance(node, ast.ImportFrom) or node.module)
        for alias in node.names
    }


def test_apps_depend_on_each_other_one_way():
    wrong = []
    for path in product_modules():
        app = path.relative_to(REPO).parts[0]
        if app == "assetsite":
            continue
        allowed = set(ORDER[: ORDER.index(app) + 1]) | {"assetsite"}
        for imported in all_imports(path):
            target = imported.split(".")[0]
            if target in ORDER and (target not in allowed or target in PEERS.get(app, set())):
                wrong.append(f"{path.relative_to(REPO)} imports {imported}")
    assert wrong == [], "imports against the app order " + " <- ".join(ORDER) + ":\n" + "\n".join(wrong)


def test_assetsite_plumbing_imports_no_app_at_module_level():
    # settings, pagination, errors: everything imports them, so they must not import back.
    allowed = {"assetsite/urls.py"}  # the URL configuration wires every app together
    wrong = [
        f"{path.relative_to(REPO)} imports {imported}"
        for path in (REPO / "assetsite").glob("*.py")
        if str(path.relative_to(REPO)) not in allowed
        for imported in top_level_imports(path)
        if imported.split(".")[0] in ORDER
    ]
    assert wrong == []


def test_no_module_level_import_cycles():
    modules = {module_name(path): path for path in product_modules()}
    graph = {
        name: {target for target in top_level_imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append(visiting[visiting.index(name) :] + [name])
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert cycles == []


def test_no_product_module_passes_600_lines():
    long = {
        str(path.relative_to(REPO)): count
        for path in product_modules()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
