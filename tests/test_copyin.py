"""The copy-in promise: threadrun/__init__.py copied alone as threadrun.py is the whole library.

For each CPython 3.7..3.13 installed under pyenv (absent ones are skipped), import the copied
file with ``python -I -S`` (no site-packages, no cwd on sys.path: the directory is inserted
explicitly), parse a corpus file, check the round trip, and check that importing it did not
pull in http.client, urllib.request or ssl.  Then run the whole test_model suite against the
copy (current interpreter only) through THREADRUN_TEST_MODULE_DIR.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, Optional

from tests import DATA_DIR, SINGLE_FILE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, "threadrun", "__init__.py")
VERSIONS = ("3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

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
print("ok %d.%d" % sys.version_info[:2])
"""


def pyenv_root() -> Optional[str]:
    root = os.environ.get("PYENV_ROOT")
    if root and os.path.isdir(root):
        return root
    exe = shutil.which("pyenv")
    if exe:
        try:
            out = subprocess.run(
                [exe, "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30
            ).stdout.decode().strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and os.path.isdir(out):
            return out
    guess = os.path.expanduser("~/.pyenv")
    return guess if os.path.isdir(guess) else None


def interpreters() -> Dict[str, Optional[str]]:
    """'3.X' -> path of the newest pyenv-installed 3.X.* python, or None."""
    root = pyenv_root()
    found: Dict[str, Optional[str]] = {}
    for v in VERSIONS:
        paths = []
        if root:
            paths = glob.glob(os.path.join(root, "versions", v + ".*", "bin", "python"))
            paths = [p for p in paths if os.path.basename(os.path.dirname(os.path.dirname(p)))
                     .replace(v + ".", "", 1).isdigit()]  # fmt: skip
        paths.sort(key=lambda p: int(p.split(os.sep)[-3].rsplit(".", 1)[1]))
        found[v] = paths[-1] if paths else None
    return found


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
        ran = 0
        for version, exe in interpreters().items():
            with self.subTest(python=version):
                if exe is None:
                    self.skipTest("python %s not installed" % version)
                proc = subprocess.run(
                    [exe, "-I", "-S", "-c", SCRIPT, self.tmp, corpus_file],
                    cwd=self.tmp,
                    capture_output=True,
                    timeout=120,
                )
                out = proc.stdout.decode("utf-8", "replace")
                err = proc.stderr.decode("utf-8", "replace")
                self.assertEqual(proc.returncode, 0, "python %s:\n%s%s" % (version, out, err))
                self.assertEqual(out.strip(), "ok " + version)
                ran += 1
        self.assertGreater(ran, 0, "no interpreter found at all")

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
