# SPDX-License-Identifier: MIT
"""What every scenario script shares: finding the dmap module, checks that
print as they pass, skipping when a backend is not built, and the summary
line run_all.py collects.

A scenario is a function returning a Result; ``scenario_main(run)`` runs it
and exits 0 (passed), 1 (an expectation failed) or 77 (SKIPPED: backend not
built, the exit code ctest's SKIP_RETURN_CODE understands).
"""

import dataclasses
import json
import os
import sys
import traceback

EXIT_SKIPPED = 77
SUMMARY_TAG = "SCENARIO-SUMMARY "


def _find_dmap():
    try:
        import dmap  # noqa: F401
        return
    except ImportError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for build in ("build", "build-python", "build-release"):
        path = os.path.join(root, build, "bindings", "python")
        if os.path.isdir(os.path.join(path, "dmap")):
            sys.path.insert(0, path)
            return
    sys.exit("cannot import dmap: build the project (cmake -B build && cmake --build build) "
             "and set PYTHONPATH=<build>/bindings/python")


_find_dmap()
import dmap  # noqa: E402


class Skipped(Exception):
    """The scenario cannot run in this build."""


@dataclasses.dataclass
class Result:
    scenario: str
    backend: str
    outcome: str = "passed"
    figures: dict = dataclasses.field(default_factory=dict)


def require(*backends):
    """Skip unless every named backend is built into this dmap."""
    missing = [b for b in backends if b not in dmap.BACKENDS]
    if missing:
        raise Skipped("backend %s not built" % ", ".join(missing))


def say(text=""):
    print(text, flush=True)


def step(title):
    say()
    say("== " + title)


def expect(condition, what):
    """Assert an expectation and print it: the script reads as a list of facts."""
    if not condition:
        raise AssertionError(what)
    say("   ok: " + what)


def expect_raises(exc_type, fn, what):
    """Run fn(), which must raise exc_type; print the library's message; return the exception."""
    try:
        fn()
    except exc_type as e:
        say("   ok: %s -> %s" % (what, type(e).__name__))
        if getattr(e, "message", ""):
            say("       library says: " + e.message)
        return e
    raise AssertionError("%s: expected %s, nothing was raised" % (what, exc_type.__name__))


def kib(n):
    return "%d KiB" % (n >> 10) if n % 1024 == 0 else "%d B" % n


def scenario_main(run, name, backend):
    """Run a scenario and exit with its status."""
    say("#" * 72)
    say("# scenario %s" % name)
    say("#" * 72)
    try:
        result = run()
    except Skipped as e:
        result = Result(name, backend, "SKIPPED: %s" % e)
        say()
        say("SKIPPED: %s" % e)
        status = EXIT_SKIPPED
    except AssertionError as e:
        result = Result(name, backend, "FAILED: %s" % e)
        say()
        say("FAILED: %s" % e)
        traceback.print_exc()
        status = 1
    except Exception as e:  # an unexpected error is a failure too, with its trace
        result = Result(name, backend, "FAILED: %s: %s" % (type(e).__name__, e))
        say()
        traceback.print_exc()
        say("FAILED: unexpected %s" % type(e).__name__)
        status = 1
    else:
        say()
        say("PASSED: %s" % name)
        status = 0
    say(SUMMARY_TAG + json.dumps(dataclasses.asdict(result)))
    sys.exit(status)
