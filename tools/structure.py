"""Checks the package's architecture from its import graph, and shows where the bulk is.

Reads every module under `syndication/` with `ast` (imports inside functions count too) and
fails (exit 1) on what breaks the layout README's Architecture section describes:

- an import cycle between modules;
- a stage (`ingest`, `translate`, `publish`, `partners`) importing another stage;
- the store importing a stage or a front end (`cli`, `run`, `serve`);
- a shared module (leaves, records, errors, configuration) importing the store, a stage or a
  front end;
- a public exception class not derived from `syndication.errors.SyndicationError`.

Then prints the ten largest modules and functions by code lines (docstrings, comments and
blank lines not counted), for review, not as a gate.

    python tools/structure.py            # from the repository root
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "syndication"
STAGES = {"ingest", "translate", "publish", "partners"}
STORE = {"store"}
FRONT_ENDS = {"cli", "run", "serve", "__main__"}
ROOT_ERROR = "SyndicationError"
BUILTIN_EXCEPTIONS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules `name` imports, wherever in the file the import stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # `from syndication import http` imports a module; `from x import name` the module x.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != PACKAGE:
                found.add(target)
    return found


def room(module: str) -> str:
    """The top-level part of the package a module belongs to (`syndication.store.x` -> store)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def kind(module: str) -> str:
    part = room(module)
    if part in STAGES:
        return "stage"
    if part in STORE:
        return "store"
    if part in FRONT_ENDS:
        return "front end"
    return "shared"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_problems(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            source_kind, target_kind = kind(module), kind(target)
            if source_kind == "stage" and target_kind == "stage" and room(module) != room(target):
                problems.append(f"stage imports another stage: {module} -> {target}")
            elif source_kind == "store" and target_kind in ("stage", "front end"):
                problems.append(f"the store imports a {target_kind}: {module} -> {target}")
            elif source_kind == "shared" and target_kind != "shared":
                problems.append(f"a shared module imports a {target_kind}: {module} -> {target}")
    return problems


def exception_problems(files: dict[str, Path]) -> list[str]:
    """Public exception classes whose bases do not lead to the one root."""
    classes: dict[str, tuple[str, list[str]]] = {}
    for module, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
                classes.setdefault(node.name, (module, bases))

    def leads_to_root(name: str, seen: frozenset[str] = frozenset()) -> bool | None:
        """True: under the root; False: an exception outside it; None: not an exception."""
        if name == ROOT_ERROR:
            return True
        if name in seen:
            return None
        if name not in classes:
            return (
                False
                if (name in BUILTIN_EXCEPTIONS and name.endswith(("Error", "Exception", "Warning")))
                or name == "BaseException"
                else None
            )
        answers = [leads_to_root(base, seen | {name}) for base in classes[name][1]]
        if True in answers:
            return True
        return False if False in answers else None

    problems = []
    for name, (module, _bases) in sorted(classes.items()):
        if not name.startswith("_") and leads_to_root(name) is False:
            problems.append(f"public exception outside {ROOT_ERROR}: {module}.{name}")
    return problems


def code_lines(node: ast.AST, source: list[str]) -> int:
    """Lines of a node holding code: not blank, not a comment, not a docstring."""
    docstrings: set[int] = set()
    for inner in ast.walk(node):
        body = getattr(inner, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    start = getattr(node, "lineno", 1)
    end = getattr(node, "end_lineno", len(source))
    return sum(
        1
        for number in range(start, end + 1)
        if number not in docstrings
        and source[number - 1].strip()
        and not source[number - 1].strip().startswith("#")
    )


def sizes(files: dict[str, Path]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    module_sizes, function_sizes = [], []
    for path in files.values():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        source = text.splitlines()
        module_sizes.append((code_lines(tree, source), str(path.relative_to(ROOT))))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                function_sizes.append((code_lines(node, source), where))
    return sorted(module_sizes, reverse=True)[:10], sorted(function_sizes, reverse=True)[:10]


def main() -> int:
    files = modules(ROOT)
    graph = {name: imports(name, path, files) for name, path in files.items()}
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    problems += layer_problems(graph)
    problems += exception_problems(files)
    largest_modules, largest_functions = sizes(files)
    print(f"{len(files)} modules, {sum(len(t) for t in graph.values())} imports between them")
    print("\nlargest modules (code lines):")
    for lines, where in largest_modules:
        print(f"  {lines:5d}  {where}")
    print("\nlargest functions (code lines):")
    for lines, where in largest_functions:
        print(f"  {lines:5d}  {where}")
    if problems:
        print(f"\n{len(problems)} architecture problem(s):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("\narchitecture: no cycles, no stage importing another, store and shared modules clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
