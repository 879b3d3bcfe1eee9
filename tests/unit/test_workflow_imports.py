"""The workflow plans without torch: every SLURM job starts by parsing the Snakefile again,
and importing torch there would add seconds to each of thousands of jobs."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def workflow_imports() -> set[str]:
    sources = [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]
    pattern = re.compile(r"^from (avrepro[\w.]*) import", re.MULTILINE)
    return {module for path in sources for module in pattern.findall(path.read_text())}


def test_the_modules_the_workflow_imports_do_not_import_torch():
    modules = workflow_imports()
    assert {"avrepro.config", "avrepro.papers"} <= modules  # the pattern finds them
    heavy = ("torch", "timm", "torchvision")
    code = (f"import sys; import {', '.join(sorted(modules))}; "
            f"print(sorted(m for m in {heavy} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"{sorted(modules)} import {done.stdout.strip()}"
