"""What every workflow job needs: its output and errors in the rule's log, a numba cache of
its own (avrepro.numba_cache), and a device."""

import faulthandler
import signal
import sys
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from avrepro import numba_cache

# Signals that end a job with no Python exception: a crash in native code (faulthandler's
# own: SIGSEGV, SIGFPE, SIGABRT, SIGBUS, SIGILL) and a scheduler's kill (SIGTERM: SLURM's
# time limit, Snakemake's Ctrl-C of a run). SIGKILL cannot be caught.
KILL_SIGNALS = (signal.SIGTERM,)


@contextmanager
def job(log_path: str | Path):
    """Run a job's body: stdout, stderr (tqdm bars included) and any traceback go to the
    rule's log, and librosa's kernels load from (or compile into) the job's own cache.

    A job that dies by a signal ends its log with every thread's Python traceback
    (faulthandler), so that the log says where, rather than nothing."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log, redirect_stdout(log), redirect_stderr(log):
        faulthandler.enable(file=log, all_threads=True)
        for number in KILL_SIGNALS:
            faulthandler.register(number, file=log, all_threads=True, chain=True)
        try:
            with numba_cache.private_cache():
                yield
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            for number in KILL_SIGNALS:
                faulthandler.unregister(number)
            faulthandler.disable()


def resolve_device(name: str) -> str:
    import torch  # not at the top: jobs that run no network need not pay for torch's import

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device 'cuda' but no CUDA device is visible")
    return name
