#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run every dmap scenario and print a summary table.

    PYTHONPATH=build/bindings/python python3 examples/scenarios/run_all.py
    cmake --build build --target scenarios          # the same, from the build

Each scenario is a short script in this directory that sets up a situation
from a real bug report (an SMMU fault storm, a bounce pool that cannot take a
read-ahead, a forgotten DMA mask, a Xen PV buffer straddling machine frames,
a fragmenting pool, a stale IOTLB entry), asserts what dmap does about it and
prints what happened. This runner runs them one by one (each in its own
interpreter), shows their output, and ends with one line per scenario.

Exit status: 0 when every scenario passed or was skipped because its backend
is not built (--require-all makes a skip a failure), 1 otherwise.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = ["smmu_bypass", "readahead_bounce", "missing_mask", "xen_straddle",
             "fragmentation", "stale_iotlb"]
TAG = "SCENARIO-SUMMARY "
EXIT_SKIPPED = 77


def run_one(name, quiet):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.join(HERE, name + ".py")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    elapsed = time.perf_counter() - start
    summary = None
    for line in proc.stdout.splitlines():
        if line.startswith(TAG):
            summary = json.loads(line[len(TAG):])
        elif not quiet:
            print(line)
    if not quiet:
        print()
    if summary is None:  # crashed before it could say anything
        tail = proc.stdout.strip().splitlines()[-1:] or ["no output"]
        summary = {"scenario": name, "backend": "?",
                   "outcome": "FAILED: exit %d (%s)" % (proc.returncode, tail[0]),
                   "figures": {}}
    summary["returncode"] = proc.returncode
    summary["seconds"] = elapsed
    return summary


def table(rows):
    head = ("scenario", "backend", "outcome", "key figures")
    body = []
    for r in rows:
        figures = ", ".join("%s: %s" % kv for kv in r["figures"].items())
        body.append((r["scenario"], r["backend"], r["outcome"], figures))
    widths = [max(len(x[i]) for x in [head] + body) for i in range(3)]
    line = "-+-".join("-" * w for w in widths) + "-+-" + "-" * 40
    out = [" | ".join(h.ljust(widths[i]) if i < 3 else h for i, h in enumerate(head)),
           line]
    for b in body:
        out.append(" | ".join(c.ljust(widths[i]) if i < 3 else c for i, c in enumerate(b)))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quiet", "-q", action="store_true", help="only the summary table")
    ap.add_argument("--require-all", action="store_true",
                    help="a scenario skipped for a missing backend counts as a failure")
    ap.add_argument("only", nargs="*", help="run only these scenarios")
    args = ap.parse_args()
    names = args.only or SCENARIOS
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error("unknown scenario(s): %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))

    rows = [run_one(name, args.quiet) for name in names]
    failed = [r for r in rows if r["returncode"] not in (0, EXIT_SKIPPED)]
    skipped = [r for r in rows if r["returncode"] == EXIT_SKIPPED]

    print("dmap scenario summary")
    print()
    print(table(rows))
    print()
    print("%d passed, %d skipped, %d failed (%.1f s)" % (
        len(rows) - len(failed) - len(skipped), len(skipped), len(failed),
        sum(r["seconds"] for r in rows)))
    if failed or (args.require_all and skipped):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
