"""The layers hold (SPEC §9: `c42/auth` and `c42/access` import nothing above them; the sandbox
merge, which changes planning data, lives above both).

Reads the import graph of c42/ from the source (ast), imports nothing of it. Imports under
`if TYPE_CHECKING:` are types only and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "c42"
# What c42/auth and c42/access may never import: everything that builds on them.
ABOVE = ("c42.web", "c42.resources", "c42.cli", "c42.app", "c42.sandbox_merge", "c42.demo")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from c42 import x`
    return {name for name in found if name == "c42" or name.startswith("c42.")}


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path, _module_name(path))
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts
    }


GRAPH = _graph()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_graph_is_read() -> None:
    # The reader itself can fail: these imports exist today.
    assert "c42.auth.secrets" in GRAPH["c42.auth.authenticate"]
    assert "c42.auth.silent.authorize" in GRAPH["c42.app"]
    assert any(_within(name, "c42.access") for name in GRAPH["c42.sandbox_merge"])


@pytest.mark.parametrize("layer", ["c42.auth", "c42.access"])
def test_auth_and_access_import_nothing_above_them(layer: str) -> None:
    upward = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        if _within(module, layer)
        for name in names
        if any(_within(name, above) for above in ABOVE)
    )
    assert upward == []


def test_auth_and_access_do_not_import_each_other_both_ways() -> None:
    """Either may build on the other, not both (a cycle at package level)."""

    def imports(lower: str, upper: str) -> list[str]:
        return sorted(
            f"{module} imports {name}"
            for module, names in GRAPH.items()
            if _within(module, upper)
            for name in names
            if _within(name, lower)
        )

    access_uses_auth, auth_uses_access = (
        imports("c42.auth", "c42.access"),
        imports("c42.access", "c42.auth"),
    )
    assert not (access_uses_auth and auth_uses_access), (access_uses_auth, auth_uses_access)
    assert auth_uses_access == []  # today's direction: access builds on auth's AuthSubject


def test_the_authorization_flow_knows_no_extension() -> None:
    """Silent OAuth (and the merge) join the flow through OAuthConfig.extensions."""
    flow = GRAPH["c42.auth.oauth.flow"]
    assert not any(_within(name, "c42.auth.silent") for name in flow)
    assert not any(_within(name, "c42.sandbox_merge") for name in flow)
