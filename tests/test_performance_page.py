"""docs/performance.md is what benchmarks/performance_page.py makes of benchmarks/results.json
(the JSON of one run of benchmarks/run.py): no figure on the page is written by hand."""

from __future__ import annotations

import importlib.util
import json
import os
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_generator() -> object:
    path = os.path.join(REPO, "benchmarks", "performance_page.py")
    spec = importlib.util.spec_from_file_location("performance_page", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PerformancePageTest(unittest.TestCase):
    def test_the_page_is_made_from_the_json(self) -> None:
        generator: object = load_generator()
        with open(os.path.join(REPO, "benchmarks", "results.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        with open(os.path.join(REPO, "docs", "performance.md"), encoding="utf-8") as fh:
            page = fh.read()
        self.assertEqual(page, generator.render(data))  # type: ignore[attr-defined]

    def test_a_figure_changed_in_the_json_changes_the_page(self) -> None:
        generator: object = load_generator()
        with open(os.path.join(REPO, "benchmarks", "results.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        before = generator.render(data)  # type: ignore[attr-defined]
        data["targets"][0]["value"] = 123.0
        self.assertIn("123.00x", generator.render(data))  # type: ignore[attr-defined]
        self.assertNotIn("123.00x", before)


if __name__ == "__main__":
    unittest.main()
