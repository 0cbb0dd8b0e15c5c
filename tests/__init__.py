"""Test package for threadrun.

The one import pattern every test module uses::

    from tests import threadrun          # the library under test
    from tests import SINGLE_FILE, DATA_DIR, corpus, load_testing

By default ``threadrun`` is the package from the repository (run the suite from the
repository root: ``python -m unittest discover -s tests -t .``).

If the environment variable ``THREADRUN_TEST_MODULE_DIR`` is set, that directory is put at
``sys.path[0]`` before ``threadrun`` is imported, so a ``threadrun.py`` copied there alone (the
"copy-in" single-file install) is what the whole suite exercises.  In that mode
``threadrun.testing`` (the fake server, shipped with the package only) does not exist: tests
that need it get it from ``load_testing()`` (e.g. in ``setUpClass``), which raises
``unittest.SkipTest`` in that mode only.  In package mode a missing ``threadrun.testing`` is an
ImportError (a test error), never a skip.  It is imported lazily so that the model tests do not
depend on it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import unittest
from typing import Any, Dict, List, Tuple

_MODULE_DIR = os.environ.get("THREADRUN_TEST_MODULE_DIR") or None
SINGLE_FILE = _MODULE_DIR is not None

if _MODULE_DIR is not None:
    _MODULE_DIR = os.path.abspath(_MODULE_DIR)
    sys.path.insert(0, _MODULE_DIR)

import threadrun  # noqa: E402

if _MODULE_DIR is not None:
    # Make sure the copied file won, not a package found elsewhere on sys.path.
    _got = os.path.abspath(getattr(threadrun, "__file__", "") or "")
    if os.path.dirname(_got) != _MODULE_DIR:
        raise ImportError(
            "THREADRUN_TEST_MODULE_DIR=%s but threadrun was imported from %s" % (_MODULE_DIR, _got)
        )

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load_testing() -> Any:
    """Return the threadrun.testing module; SkipTest in single-file mode (it is package-only)."""
    if SINGLE_FILE:
        raise unittest.SkipTest("threadrun.testing is package-only (single-file mode)")
    return importlib.import_module("threadrun.testing")


def corpus_names() -> List[str]:
    return sorted(n for n in os.listdir(DATA_DIR) if n.endswith(".json"))


def corpus() -> List[Tuple[str, bytes, Dict[str, Any]]]:
    """(file name, raw bytes, parsed dict) for every corpus file, in name order."""
    out = []
    for name in corpus_names():
        with open(os.path.join(DATA_DIR, name), "rb") as fh:
            raw = fh.read()
        out.append((name, raw, json.loads(raw.decode("utf-8"))))
    return out
