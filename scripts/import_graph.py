"""Prints who imports whom between the packages of include/storeloop, any cycle, and the largest modules.

Usage: python scripts/import_graph.py [--top N]. Reads the source with `ast` (imports inside functions count too);
imports nothing from the project. Exits 1 when the package graph has a cycle."""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "include" / "storeloop"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "storeloop" or name.startswith("storeloop.")}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycle = stack[stack.index(nxt):] + [nxt]
                if min(cycle[:-1]) == cycle[0] and cycle not in cycles:  # each cycle once, from its smallest member
                    cycles.append(cycle)
            else:
                visit(nxt, stack + [nxt])
    for start in sorted(graph):
        visit(start, [start])
    return cycles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12, help="how many of the largest modules to list")
    args = parser.parse_args()

    files = sorted(PACKAGE_DIR.rglob("*.py"))
    graph: dict[str, set[str]] = defaultdict(set)
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in files:
        source = package_of(module_name(path))
        for target in map(package_of, imported_modules(path)):
            if target != source:
                graph[source].add(target)
                edges[(source, target)].add(module_name(path).removeprefix("storeloop."))

    print("package imports (who → whom, and from which modules)")
    for (source, target), modules in sorted(edges.items()):
        print(f"  {source:14s} → {target:14s} {', '.join(sorted(modules))}")
    cycles = find_cycles(graph)
    print("\ncycles between packages:", "none" if not cycles else "")
    for cycle in cycles:
        print("  " + " → ".join(cycle))

    every_module = files + sorted((ROOT / "sandbox").rglob("*.py"))
    print(f"\nlargest modules (lines), of {len(every_module)} in include/storeloop and sandbox")
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), p) for p in every_module), reverse=True)
    for lines, path in sizes[: args.top]:
        print(f"  {lines:5d}  {path.relative_to(ROOT)}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
