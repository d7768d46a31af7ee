#!/usr/bin/env python3
"""The Python package's pytest suite (python/tests) and its worked example
(examples/python), against this build's libdiffpo.so and diffpo CLI.

Usage: python3 tests/py_package.py BUILD_DIR [pytest args...]

Prints one line per failing test ('FAIL <test id>') and closes with
'N passed, M failed' (tests/run_tests.sh sums it): a passing test and an
expected failure (the example's deliberately broken step, xfail strict)
count as passed; a failure, an error and an unexpected pass count as
failed; skipped tests (torch or diffusers not installed) are reported but
count as neither.  No test collected (pytest exit status 5), pytest
missing, or a collection error count as a failure.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    lib = os.path.join(build, "libdiffpo.so")
    if not os.path.exists(lib):
        print("FAIL py_package: %s is missing (run make)" % lib)
        print("0 passed, 1 failed")
        return 1
    os.environ["DIFFPO_LIB"] = lib
    os.environ["DIFFPO_BUILD"] = build
    sys.path.insert(0, os.path.join(ROOT, "python"))
    try:
        import pytest
    except ImportError:
        print("FAIL py_package: pytest is not installed (make deps installs it)")
        print("0 passed, 1 failed")
        return 1

    class Tally:
        def __init__(self):
            self.passed, self.failed, self.skipped, self.lines = 0, 0, [], []

        def pytest_runtest_logreport(self, report):
            if report.when == "call" or report.outcome != "passed":
                if hasattr(report, "wasxfail"):
                    if report.skipped:  # xfail that failed as expected
                        self.passed += 1
                    else:  # strict xfail that passed: pytest marks it failed
                        self.failed += 1
                        self.lines.append("FAIL %s: expected to fail, passed" % report.nodeid)
                elif report.passed and report.when == "call":
                    self.passed += 1
                elif report.failed:
                    self.failed += 1
                    self.lines.append("FAIL %s (%s)" % (report.nodeid, report.when))
                elif report.skipped and report.when in ("setup", "call"):
                    self.skipped.append((report.nodeid, report.longrepr[2] if isinstance(report.longrepr, tuple)
                                         else str(report.longrepr)))

        def pytest_collectreport(self, report):
            if report.failed:
                self.failed += 1
                self.lines.append("FAIL collecting %s" % report.nodeid)

    t = Tally()
    args = ["-q", "-p", "no:cacheprovider", "-rs", os.path.join(ROOT, "python", "tests"),
            os.path.join(ROOT, "examples", "python")] + sys.argv[2:]
    st = pytest.main(args, plugins=[t])
    for ln in t.lines:  # after pytest's own report (output inside hooks may be captured)
        print(ln)
    if st == 5:  # pytest.ExitCode.NO_TESTS_COLLECTED
        print("FAIL py_package: pytest collected no test")
        t.failed += 1
    elif st not in (0, 1) and t.failed == 0:
        print("FAIL py_package: pytest exit status %d" % st)
        t.failed += 1
    reasons = sorted({r for _, r in t.skipped})
    for r in reasons:
        print("skipped %d: %s" % (sum(1 for _, x in t.skipped if x == r), r))
    print("%d passed, %d failed%s" % (t.passed, t.failed, ", %d skipped" % len(t.skipped) if t.skipped else ""))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
