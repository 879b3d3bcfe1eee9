"""A job's log ends with where it was when it died, even by a signal (no Python exception)."""

import os
import signal
import subprocess
import sys
import time

import pytest

BODY = """
import ctypes, sys, time
from avrepro.jobs import job

def work(how):
    if how == "crash":
        ctypes.string_at(0)  # a segmentation fault in native code
    print("working", flush=True)
    time.sleep(60)

with job(sys.argv[1]):
    work(sys.argv[2])
"""


def line_of(code: str) -> str:
    """How a traceback names the line of BODY that holds `code`."""
    return f"line {next(i for i, line in enumerate(BODY.splitlines(), 1) if code in line)}"


def start(tmp_path, how: str) -> tuple[subprocess.Popen, object]:
    log = tmp_path / "job.log"
    process = subprocess.Popen([sys.executable, "-c", BODY, str(log), how])
    return process, log


def test_a_crash_in_native_code_leaves_its_traceback_in_the_log(tmp_path):
    process, log = start(tmp_path, "crash")
    assert process.wait(timeout=120) == -signal.SIGSEGV
    text = log.read_text()
    assert "Fatal Python error: Segmentation fault" in text
    assert f"{line_of('string_at(0)')} in work" in text  # the crashing line


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_a_terminated_job_leaves_its_traceback_and_still_dies(tmp_path):
    process, log = start(tmp_path, "sleep")
    deadline = time.monotonic() + 120
    while "working" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM  # the signal's default still ends it
    text = log.read_text()
    assert f"{line_of('time.sleep(60)')} in work" in text  # where it slept
