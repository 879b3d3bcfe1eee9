"""The extension point: a method of one's own, added as a row of a paper's table.

A method is one module in this package that declares, once, everything the workflow needs:

    METHOD = Method(
        paper="maivar",              # whose tables it joins: results/maivar/{dataset}/...
        model="late",                # its variants: `late_rep-{rep}_bb-{bb}`
        keys=("rep", "bb"),          # the name grammar's keys, in order
        reads=reads,                 # (options, config) -> Reads: other runs, feature stores
        run=run,                     # (RunContext) -> metrics; writes the run folder
        schedule=None,               # its training schedule, or None (trains nothing)
    )

The workflow makes one rule per method (`train_{paper}_{model}`, workflow/rules/train.smk)
whose inputs, parameters and outputs come from the declaration; the job script
(scripts/train_method.py) builds the RunContext and calls `run`. A metafile row naming
one of its variants (`run: late_rep-ch_bb-irv2`) is all else it takes. A method module
must import heavy packages (torch, sklearn) inside `run`: the workflow imports every
method module while it plans.
"""

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from avrepro.naming import parse_variant

# Each paper's own models, which its own rules train: a method may not take their names.
PAPER_MODELS = {
    "maivar": ("vmlp", "amlp", "dhf"),
    "mafnet": ("mafnet", "attcluster", "dmrn"),
    "twophase": ("aud", "vis", "fusion"),
    "audiogen": ("tsn", "svm", "late"),
}
OPTION = r"[a-z0-9]+-[a-z0-9.]+"


def models_pattern(models) -> str:
    """A variant wildcard pattern for these models, any options."""
    return rf"({'|'.join(models)})(_{OPTION})*"


@dataclass(frozen=True)
class Reads:
    """What one seed of a method's run reads, all of the same dataset (and seed)."""

    runs: tuple[str, ...] = ()  # variants of the same paper: their run folders
    stores: tuple[str, ...] = ()  # feature stores: results/features/{dataset}/{store}/


@dataclass(frozen=True)
class RunContext:
    """Everything one seed of a method's run gets from the workflow."""

    variant: str
    options: dict[str, str]
    dataset: str
    manifest: Path
    runs: dict[str, Path]  # variant -> its run folder (same dataset and seed)
    stores: dict[str, list[Path]]  # store -> its shards
    seed: int
    out_dir: Path  # results/{paper}/{dataset}/{variant}/seed{seed}/
    schedule: dict | None
    device: str
    checkpoint_interval_s: float  # for avrepro.train.loop.fit, if the method trains


@dataclass(frozen=True)
class Method:
    paper: str
    model: str
    keys: tuple[str, ...]
    reads: Callable[[dict[str, str], dict], Reads]  # (variant options, config) -> Reads
    run: Callable[[RunContext], dict]
    schedule: dict | None = None
    gpu: bool = False  # runs a network: the SLURM profile asks for a GPU
    module: str = field(default="", compare=False)  # set by `registry`

    @property
    def pattern(self) -> str:
        """This method's variants: the model, then every key in order."""
        return re.escape(self.model) + "".join(
            rf"_{re.escape(k)}-[a-z0-9.]+" for k in self.keys)

    def options(self, variant: str) -> dict[str, str]:
        model, options = parse_variant(variant)
        if model != self.model or tuple(options) != self.keys:
            keys = "".join(f"_{k}-VALUE" for k in self.keys)
            raise ValueError(f"variant {variant!r} is not {self.paper}'s method "
                             f"{self.model}: expected {self.model}{keys}")
        return options


def _checked(method: Method, module: str) -> Method:
    if not isinstance(method, Method):
        raise TypeError(f"{module}.METHOD is not an avrepro.methods.Method")
    if method.paper not in PAPER_MODELS:
        raise ValueError(f"{module}: paper {method.paper!r} is not one of {list(PAPER_MODELS)}")
    if method.model in PAPER_MODELS[method.paper]:
        raise ValueError(f"{module}: model {method.model!r} is one of {method.paper}'s own "
                         f"{PAPER_MODELS[method.paper]}; choose another name")
    parse_variant(method.model + "".join(f"_{k}-x" for k in method.keys))  # the grammar
    return replace(method, module=module)


def registry(package: str = __name__) -> dict[tuple[str, str], Method]:
    """Every method declared in the modules of `package`: {(paper, model): Method}."""
    found: dict[tuple[str, str], Method] = {}
    path = importlib.import_module(package).__path__
    for info in sorted(pkgutil.iter_modules(path), key=lambda i: i.name):
        module = f"{package}.{info.name}"
        declared = getattr(importlib.import_module(module), "METHOD", None)
        if declared is None:
            continue
        method = _checked(declared, module)
        key = (method.paper, method.model)
        if key in found:
            raise ValueError(f"{module} and {found[key].module} both declare {key}")
        found[key] = method
    return found


def find(paper: str, variant: str, methods: dict[tuple[str, str], Method]) -> Method:
    model, _ = parse_variant(variant)
    if (paper, model) not in methods:
        raise KeyError(f"no method {model!r} of {paper} is declared in avrepro.methods")
    return methods[paper, model]
