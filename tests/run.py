#!/usr/bin/env python3
"""fnhost test runner: runs every unit test binary (build/tests/test-*) and
every end-to-end test (tests/e2e/test_*.py, functions named test_*), each
against the real build/fnhost. Prints PASS/FAIL per test and ends with the
line "N passed, N failed"; exits non-zero on any failure.

Usage: python3 tests/run.py [--build DIR] [-k SUBSTRING[,SUBSTRING...]] [-j JOBS]"""
import argparse
import concurrent.futures
import importlib.util
import os
import subprocess
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "e2e"))

import harness  # noqa: E402


def run_unit(path):
    """Runs one unit-test binary; returns [(name, ok, detail)]."""
    name = os.path.basename(path)
    try:
        # from the repository root, with the fnhost binary of the same build
        # (the isolated runner's tests start it as their child)
        env = dict(os.environ, FNHOST_BIN=os.path.join(os.path.dirname(os.path.dirname(path)),
                                                       "fnhost"))
        p = subprocess.run([path], capture_output=True, text=True, timeout=120, cwd=ROOT,
                           env=env)
    except subprocess.TimeoutExpired:
        return [(name, False, "timed out after 120 s")]
    results = []
    fails = {}
    for line in p.stdout.splitlines():
        if line.startswith("PASS "):
            results.append((f"{name}:{line[5:].strip()}", True, ""))
        elif line.startswith("FAIL "):
            test, _, msg = line[5:].partition(": ")
            fails.setdefault(test, []).append(msg)
    for test, msgs in fails.items():
        results.append((f"{name}:{test}", False, "\n".join(msgs)))
    bad = harness.sanitizer_report(p.stderr)
    if p.returncode < 0 or bad or (p.returncode and not fails):
        results.append((f"{name}:exit", False,
                        f"exit status {p.returncode}\n{bad or p.stderr[-3000:]}"))
    return results


def load_e2e(filter_):
    tests = []
    d = os.path.join(HERE, "e2e")
    for fn in sorted(os.listdir(d)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(d, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(dir(mod)):
            if attr.startswith("test_") and callable(getattr(mod, attr)):
                full = f"{fn[:-3]}.{attr}"
                if not filter_ or any(f in full for f in filter_.split(",")):
                    tests.append((full, getattr(mod, attr)))
    return tests


def run_e2e(name, fn, build):
    ctx = harness.Context(build)
    try:
        fn(ctx)
        ctx.close()
        return (name, True, "")
    except BaseException as e:  # noqa: BLE001 - a test may raise anything
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
        try:
            ctx.close(check=False)
        except Exception:  # noqa: BLE001
            pass
        logs = ctx.host_logs()
        if logs:
            detail += "\n--- host output (last lines) ---\n" + logs[-2500:]
        return (name, False, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", default="")
    ap.add_argument("-j", type=int, default=4)
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    fnhost = os.path.join(build, "fnhost")
    if not os.path.exists(fnhost):
        print(f"no {fnhost}; build it first (make)")
        print("0 passed, 1 failed")
        return 1
    print(f"# testing {fnhost}")
    passed = failed = 0

    def report(name, ok, detail):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}", flush=True)
            for line in detail.rstrip().splitlines():
                print(f"    {line}")

    unit_dir = os.path.join(build, "tests")
    if os.path.isdir(unit_dir):
        for fn in sorted(os.listdir(unit_dir)):
            path = os.path.join(unit_dir, fn)
            if fn.startswith("test-") and os.access(path, os.X_OK) and "." not in fn:
                if args.k and not any(f in fn for f in args.k.split(",")):
                    continue
                for r in run_unit(path):
                    report(*r)
    tests = load_e2e(args.k)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as pool:
        futures = [pool.submit(run_e2e, name, fn, build) for name, fn in tests]
        for f in futures:
            report(*f.result())
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
