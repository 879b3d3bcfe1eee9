"""What every workflow job needs: its output and errors in the rule's log, a numba cache of
its own (avrepro.numba_cache), and a device."""

import sys
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from avrepro import numba_cache


@contextmanager
def job(log_path: str | Path):
    """Run a job's body: stdout, stderr (tqdm bars included) and any traceback go to the
    rule's log, and librosa's kernels load from (or compile into) the job's own cache."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as log, redirect_stdout(log), redirect_stderr(log):
        try:
            with numba_cache.private_cache():
                yield
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            raise


def resolve_device(name: str) -> str:
    import torch  # not at the top: jobs that run no network need not pay for torch's import

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device 'cuda' but no CUDA device is visible")
    return name
