"""The package's shape: no import cycle (lazy imports included), and every import keeps to the
layering that each package's docstring states in its "May import:" line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

# The source tree, not the installed copy (which also holds the data package schema_files).
PACKAGE = Path(__file__).resolve().parent.parent / "gitreg"
BASE = {"gitreg.errors", "gitreg.version", "gitreg.results"}  # any module may use these
# Top-level modules that are not packages, and what they may import ("*": all but the CLI).
TOP = {"gitreg.errors": set(), "gitreg.version": set(), "gitreg.results": set(), "gitreg.registry": {"*"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every gitreg module PATH imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith("gitreg") and name in known:
                found.add(name)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def allowed_by_docstrings(mods: dict[str, Path]) -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {k: set(v) for k, v in TOP.items()}
    for name, path in mods.items():
        if path.name != "__init__.py" or name.count(".") != 1 or name == "gitreg.cli":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        line = re.search(r"May import:(.*?)(?:\.\s|\.$|$)", doc.replace("\n", " "))
        assert line, f"{name}'s docstring has no 'May import:' line"
        text = line.group(1)
        rules[name] = {"*"} if "everything but gitreg.cli" in text else set(re.findall(r"gitreg\.\w+", text))
    return rules


def test_no_import_cycles_lazy_imports_included():
    mods = modules()
    graph = {m: imports(p, set(mods)) - {m} for m, p in mods.items()}
    # A package's __init__ is imported with each of its modules: an edge to it counts.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_every_import_keeps_to_the_stated_layering():
    mods = modules()
    rules = allowed_by_docstrings(mods)
    broken = []
    for module, path in sorted(mods.items()):
        own = package_of(module)
        if own in ("gitreg", "gitreg.cli", "gitreg.__main__"):
            continue  # the front: the facade's package root and the CLI may import anything
        allowed = rules.get(own)
        assert allowed is not None, f"{own} states no layering (add 'May import:' to its docstring)"
        for target in imports(path, set(mods)):
            other = package_of(target)
            if other == own or target in BASE or other in BASE:
                continue
            if "*" in allowed and other != "gitreg.cli":
                continue
            if other not in allowed:
                broken.append(f"{module} imports {target}, but {own} may import only {sorted(allowed)}")
    assert not broken, "\n".join(broken)


def test_the_layering_itself_has_no_cycle():
    rules = allowed_by_docstrings(modules())
    for package, allowed in rules.items():
        for other in allowed - {"*"}:
            assert package not in rules.get(other, set()), f"{package} and {other} may import each other"
