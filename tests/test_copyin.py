"""The copy-in promise: threadrun/__init__.py copied alone as threadrun.py is the whole library.

For each interpreter tests.support.interpreters() finds (pyenv's CPythons, those .ci/run
provides, PyPy), import the copied file with ``python -I -S`` (no site-packages, no cwd on
sys.path: the directory is inserted explicitly), parse a corpus file, check the round trip,
and check that importing it did not pull in http.client, urllib.request or ssl.  Then run the
whole test_model suite against the copy (current interpreter only) through
THREADRUN_TEST_MODULE_DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests import DATA_DIR, SINGLE_FILE
from tests.support import interpreters

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "threadrun", "__init__.py")

SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import threadrun
assert threadrun.__file__.startswith(sys.argv[1]), threadrun.__file__
net = [m for m in ("http.client", "urllib.request", "ssl") if m in sys.modules]
assert not net, "imported at import time: %r" % net
import json
with open(sys.argv[2], "rb") as fh:
    raw = fh.read()
run = threadrun.ThreadRun.from_json(raw)
assert run.to_dict() == json.loads(raw.decode("utf-8")), "to_dict is not lossless"
assert threadrun.ThreadRun.from_dict(run.to_dict()) == run
assert threadrun.ThreadRun.from_json(run.to_json()) == run
assert run.tool_calls[0].name == "get_current_weather", run.tool_calls
assert not run.is_terminal
try:
    threadrun.ThreadRun.from_json(b'{"id": 1}')
except threadrun.ThreadRunError as e:
    assert isinstance(e, ValueError)
else:
    raise AssertionError("no ThreadRunError")
net = [m for m in ("http.client", "urllib.request", "ssl") if m in sys.modules]
assert not net, "imported by the model: %r" % net
name = "" if sys.implementation.name == "cpython" else sys.implementation.name
print("ok %s%d.%d" % ((name,) + sys.version_info[:2]))
"""


@unittest.skipIf(SINGLE_FILE, "needs the package source (not meaningful in single-file mode)")
class TestCopyIn(unittest.TestCase):
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="threadrun-copyin-")
        shutil.copyfile(SOURCE, os.path.join(cls.tmp, "threadrun.py"))
        assert os.listdir(cls.tmp) == ["threadrun.py"]

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_each_interpreter(self) -> None:
        corpus_file = os.path.join(DATA_DIR, "06-requires_action.json")
        found = interpreters()
        self.assertTrue(found, "no interpreter found at all")
        for python in found:
            with self.subTest(python=python.name):
                proc = subprocess.run(
                    [python.path, "-I", "-S", "-c", SCRIPT, self.tmp, corpus_file],
                    cwd=self.tmp,
                    capture_output=True,
                    timeout=120,
                )
                out = proc.stdout.decode("utf-8", "replace")
                err = proc.stderr.decode("utf-8", "replace")
                self.assertEqual(proc.returncode, 0, "%s:\n%s%s" % (python.path, out, err))
                self.assertEqual(out.strip(), "ok " + python.name)

    def test_model_suite_against_copy(self) -> None:
        env = dict(os.environ)
        env["THREADRUN_TEST_MODULE_DIR"] = self.tmp
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(
            [sys.executable, "-m", "unittest", "tests.test_model"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        out = proc.stdout.decode("utf-8", "replace")
        lines = out.strip().splitlines() or [""]
        # indented, so that the inner run's "FAIL:"/"Ran N tests" lines cannot be mistaken
        # for the outer runner's by whoever reads this log
        shown = "\n".join("    | " + line for line in out[-8000:].splitlines())
        self.assertEqual(proc.returncode, 0, "single-file test_model run failed:\n" + shown)
        self.assertTrue(lines[-1].startswith("OK"), shown)
        # (tests/__init__.py itself refuses to run if threadrun did not come from the copy)


if __name__ == "__main__":
    unittest.main()
