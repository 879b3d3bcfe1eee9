"""What a run's results come from in code: a digest of the avrepro modules its training
module imports, directly or through others, read as source (nothing is imported).

Training rules pass it as a parameter (`params: code=...`), and Snakemake reruns a job
whose parameters changed: editing a model or the training loop reruns the runs that use
it, and editing another paper's model reruns none of them. Snakemake itself watches the
rule's script; without this, edits under src/avrepro/ would leave stale results.
"""

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "avrepro"
ROOT = Path(__file__).resolve().parent  # src/avrepro


def module_file(name: str) -> Path | None:
    """The source file of avrepro module `name` (a package's __init__.py), or None."""
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        return None
    path = ROOT.joinpath(*name.split(".")[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache
def imported_modules(name: str) -> frozenset[str]:
    """The avrepro modules that module `name` imports anywhere in its source (lazy imports
    inside functions too); `from avrepro.x import y` counts y when it is a module."""
    path = module_file(name)
    if path is None:
        raise ValueError(f"{name!r} is not a module of the {PACKAGE} package")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(m for m in found if module_file(m) is not None)


def closure(*names: str) -> list[str]:
    """`names` and every avrepro module they import, transitively, sorted."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += imported_modules(name)
    return sorted(seen)


@lru_cache
def code_digest(*names: str) -> str:
    """A short sha256 of the sources of `closure(*names)`, with their module names."""
    digest = hashlib.sha256()
    for name in closure(*names):
        digest.update(name.encode() + b"\0" + module_file(name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
