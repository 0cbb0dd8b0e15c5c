"""No module of the package uses another module's private names.

The one exception is declared: the runtime's ``_SIBLING_API``, the private names its sibling
modules (aio, archive, the CLI) may import from it (docs/architecture.md says why). Read from
the sources with ``ast``, so it holds in the copy-in mode too. Tests and benchmarks may use
internals; they are not scanned.
"""

from __future__ import annotations

import ast
import os
import unittest
from typing import Dict, List, Optional, Set, Tuple

from tests.support import REPO

PACKAGE = os.path.join(REPO, "threadrun")
RUNTIME = "threadrun"  # the module named by "from threadrun import ..." and "from . import ..."

# (line, module the name comes from, the name)
Use = Tuple[int, str, str]


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _source_module(node: ast.ImportFrom) -> str:
    """The dotted module a ``from ... import`` reads, relative imports as seen from the
    package's own modules (``from . import x`` is the runtime)."""
    if node.level:
        return RUNTIME + ("." + node.module if node.module else "")
    return node.module or ""


def private_uses(source: str) -> List[Use]:
    """Every private name the code takes from a module of the package: imported by name, or
    read as an attribute of an imported module (``threadrun._name``)."""
    tree = ast.parse(source)
    modules: Dict[str, str] = {}  # the local name bound to an imported package module
    uses: List[Use] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name != RUNTIME and not alias.name.startswith(RUNTIME + "."):
                    continue
                if alias.asname:  # "import threadrun.archive as a": a is the module
                    modules[alias.asname] = alias.name
                else:  # "import threadrun.archive" binds threadrun
                    modules[RUNTIME] = RUNTIME
        elif isinstance(node, ast.ImportFrom):
            module = _source_module(node)
            if module != RUNTIME and not module.startswith(RUNTIME + "."):
                continue
            for alias in node.names:
                if private(alias.name):
                    uses.append((node.lineno, module, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            dotted = _dotted(node.value)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head in modules:
                module = modules[head] + ("." + rest if rest else "")
                uses.append((node.lineno, module, node.attr))
    return sorted(uses)


def _dotted(node: ast.expr) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else inner + "." + node.attr
    return None


def declared_sibling_api(runtime_source: str) -> Tuple[str, ...]:
    for node in ast.parse(runtime_source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "_SIBLING_API"
            for target in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple)
            return value
    raise AssertionError("threadrun/__init__.py declares no _SIBLING_API")


def top_level_names(source: str) -> Set[str]:
    """The names a module binds at its top level, in ``if`` and ``try`` blocks too."""
    names: Set[str] = set()
    blocks = [ast.parse(source).body]
    while blocks:
        for node in blocks.pop():
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(
                        leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name)
                    )
            elif isinstance(node, (ast.If, ast.Try)):
                blocks.extend(
                    getattr(node, part) for part in ("body", "orelse", "finalbody")
                    if hasattr(node, part)
                )
                blocks.extend(handler.body for handler in getattr(node, "handlers", ()))
    return names


def read(name: str) -> str:
    with open(os.path.join(PACKAGE, name), encoding="utf-8") as file:
        return file.read()


def package_modules() -> List[str]:
    return sorted(name for name in os.listdir(PACKAGE) if name.endswith(".py"))


class TestScanner(unittest.TestCase):
    """The scanner finds each way a module can take a private name."""

    def test_finds(self) -> None:
        cases = [
            ("from threadrun import _loads, ThreadRun\n", [(1, "threadrun", "_loads")]),
            ("from threadrun.archive import _x\n", [(1, "threadrun.archive", "_x")]),
            ("from . import _x\n", [(1, "threadrun", "_x")]),
            ("from ._live import _x\n", [(1, "threadrun._live", "_x")]),
            ("def f():\n    from threadrun.testing import _x\n",
             [(2, "threadrun.testing", "_x")]),
            ("import threadrun\nthreadrun._x(1)\n", [(2, "threadrun", "_x")]),
            ("import threadrun as t\nt._x\n", [(2, "threadrun", "_x")]),
            ("import threadrun.archive\nthreadrun.archive._x\n",
             [(2, "threadrun.archive", "_x")]),
            ("import threadrun.archive as a\na._x\n", [(2, "threadrun.archive", "_x")]),
            ("from threadrun import _live, __version__\n", [(1, "threadrun", "_live")]),
            ("from threadrun._live import fit\nimport json\njson._default_decoder\n", []),
            ("import threadrun\nclient = threadrun.Client\nself._x\n", []),
        ]  # fmt: skip
        for source, expected in cases:
            with self.subTest(source=source):
                self.assertEqual(private_uses(source), expected)


class TestPrivateNames(unittest.TestCase):
    """No module imports another's private names, but the runtime's declared few."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.runtime_source = read("__init__.py")
        cls.declared = declared_sibling_api(cls.runtime_source)
        cls.uses = {name: private_uses(read(name)) for name in package_modules()}

    def test_only_declared_names_cross_modules(self) -> None:
        for module, uses in self.uses.items():
            with self.subTest(module=module):
                undeclared = [
                    "threadrun/%s:%d: %s from %s" % (module, line, name, source)
                    for line, source, name in uses
                    if source != RUNTIME or name not in self.declared
                ]
                self.assertEqual(undeclared, [], "private names of another module")

    def test_the_runtime_uses_no_sibling(self) -> None:
        self.assertEqual(self.uses["__init__.py"], [])

    def test_declared_names_exist_are_used_and_unique(self) -> None:
        defined = top_level_names(self.runtime_source)
        used = {name for uses in self.uses.values() for _, _, name in uses}
        self.assertEqual(len(set(self.declared)), len(self.declared), "declared twice")
        for name in self.declared:
            with self.subTest(name=name):
                self.assertTrue(private(name))
                self.assertIn(name, defined, "declared but not in the runtime")
                self.assertIn(name, used, "declared but used by no sibling: drop it")


if __name__ == "__main__":
    unittest.main()
