"""The handheld's JS unit tests (tests/js/*.test.mjs) pass under Node's own test runner.

They import handheld_pwa's modules as they are served (plain .js ES modules, no
package.json), which needs Node's ES module syntax detection: on by default
from Node 20.19 and 22.7. No Node, or an older one, is a failure, not a skip.
"""

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"


def node_version(node: str) -> tuple[int, int]:
    shown = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    match = re.match(r"v(\d+)\.(\d+)", shown)
    assert match, f"node --version printed {shown!r}"
    return int(match.group(1)), int(match.group(2))


def test_the_handheld_js_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH: the handheld's JS unit tests (tests/js) need Node 20.19+ or 22.7+"
    version = node_version(node)
    assert (20, 19) <= version < (21, 0) or version >= (22, 7), (
        f"node {version[0]}.{version[1]} cannot import handheld_pwa's .js modules as ES modules: use 20.19+ or 22.7+")
    assert sorted(JS_TESTS.glob("*.test.mjs")), f"no *.test.mjs under {JS_TESTS}"
    run = subprocess.run([node, "--test", str(JS_TESTS)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"node --test tests/js failed:\n{run.stdout}\n{run.stderr}"
    assert re.search(r"^# fail 0$", run.stdout, re.MULTILINE), run.stdout
