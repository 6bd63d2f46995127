# SPDX-License-Identifier: MIT
"""run_all.py: its table and exit status with passing, skipped, failing and crashing scenarios.

The real scenarios run as their own ctest entries; here run_all.py and the
shared helper are copied next to fake scenario scripts with the same names.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO_DIR = os.path.join(ROOT, "examples", "scenarios")
NAMES = ["smmu_bypass", "readahead_bounce", "missing_mask", "xen_straddle", "fragmentation",
         "stale_iotlb"]

PASS = """
from _scenario import Result, expect, scenario_main
def run():
    expect(True, "fine")
    return Result("{name}", "fake", figures={{"x": 1}})
scenario_main(run, "{name}", "fake")
"""
SKIP = """
from _scenario import require, scenario_main
def run():
    require("no-such-backend")
scenario_main(run, "{name}", "fake")
"""
FAIL = """
from _scenario import expect, scenario_main
def run():
    expect(False, "the data did not arrive")
scenario_main(run, "{name}", "fake")
"""
CRASH = """
import os
os._exit(3)
"""


def setup_dir(tmp_path, kinds):
    for f in ("run_all.py", "_scenario.py"):
        shutil.copy(os.path.join(SCENARIO_DIR, f), tmp_path / f)
    for name in NAMES:
        (tmp_path / (name + ".py")).write_text(textwrap.dedent(
            kinds.get(name, PASS).format(name=name)))
    return tmp_path


def run_all(d, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run([sys.executable, str(d / "run_all.py"), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_all_pass(tmp_path):
    r = run_all(setup_dir(tmp_path, {}))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "6 passed, 0 skipped, 0 failed" in r.stdout
    assert "ok: fine" in r.stdout  # scenario output is shown
    quiet = run_all(tmp_path, "--quiet")
    assert "ok: fine" not in quiet.stdout and "scenario" in quiet.stdout


def test_skip_is_not_a_failure_unless_required(tmp_path):
    d = setup_dir(tmp_path, {"xen_straddle": SKIP})
    r = run_all(d)
    assert r.returncode == 0
    assert "SKIPPED: backend no-such-backend not built" in r.stdout
    assert "5 passed, 1 skipped, 0 failed" in r.stdout
    assert run_all(d, "--require-all").returncode == 1


def test_failure_and_crash_fail_the_run(tmp_path):
    d = setup_dir(tmp_path, {"fragmentation": FAIL, "stale_iotlb": CRASH})
    r = run_all(d, "--quiet")
    assert r.returncode == 1
    assert "FAILED: the data did not arrive" in r.stdout
    assert "FAILED: exit 3" in r.stdout
    assert "4 passed, 0 skipped, 2 failed" in r.stdout


def test_select_and_unknown(tmp_path):
    d = setup_dir(tmp_path, {})
    r = run_all(d, "-q", "missing_mask")
    assert r.returncode == 0 and "1 passed" in r.stdout
    r = run_all(d, "nonsense")
    assert r.returncode == 2 and "unknown scenario" in r.stderr


@pytest.mark.parametrize("name", NAMES)
def test_scenario_scripts_exist_and_are_documented(name):
    path = os.path.join(SCENARIO_DIR, name + ".py")
    text = open(path).read()
    assert text.startswith("#!/usr/bin/env python3")
    assert '"""%s: ' % name in text
    assert os.access(path, os.X_OK)
