"""Every paper's metafile against itself and its paper: each row of the YAML loaded, each
run a variant of its paper, each `reported` number printed in the paper's text. Nothing
here pins a table's size: adding a row of one's own passes (README, "Adding a method")."""

import re
from pathlib import Path

import pytest
import yaml

from avrepro.methods import registry
from avrepro.naming import parse_variant
from avrepro.papers import PAPERS as SUITE
from avrepro.papers import load_metafile, run_reference
from avrepro.train import mafnet
from avrepro.variants import audiogen, imd, twophase
from avrepro.variants.maivar import variant_inputs

REPO = Path(__file__).resolve().parents[2]
PAPERS_DIR = REPO.parent / "shared" / "papers"
PAPERS = sorted(p.stem for p in (REPO / "workflow" / "papers").glob("*.yaml"))


PARSERS = {
    "maivar": lambda v: variant_inputs(v, "video-store"),
    "mafnet": mafnet.parse,
    "twophase": twophase.parse,
    "audiogen": audiogen.parse,
    "imd": imd.parse,
}


def printed_numbers(paper: str) -> set[str]:
    """Every number in the paper's text, thousands separators ("6,836", "22, 000") dropped."""
    text = (PAPERS_DIR / f"{paper}.txt").read_text()
    return set(re.findall(r"\d+(?:\.\d+)?", re.sub(r"(\d), ?(\d{3})\b", r"\1\2", text)))


def test_every_paper_has_a_metafile_and_a_parser():
    assert set(PAPERS) == set(PARSERS) == set(SUITE)


@pytest.mark.parametrize("paper", PAPERS)
def test_every_row_of_the_yaml_is_loaded(paper):
    path = REPO / "workflow" / "papers" / f"{paper}.yaml"
    raw = yaml.safe_load(path.read_text())
    meta = load_metafile(path)
    assert meta.paper == paper
    for key, spec in raw["tables"].items():
        if "rows" in spec:
            assert [r.method for r in meta.tables[key].rows] == [r["method"] for r in spec["rows"]]


@pytest.mark.parametrize("paper", PAPERS)
def test_every_run_is_a_variant_of_its_paper(paper):
    meta = load_metafile(REPO / "workflow" / "papers" / f"{paper}.yaml")
    methods = registry()  # methods added as rows (avrepro.methods) parse by their declaration
    for table in meta.tables.values():
        for _, run in table.runs():
            owner, variant = run_reference(run, paper)  # maybe another paper's run
            model, _ = parse_variant(variant)
            if (owner, model) in methods:
                methods[owner, model].options(variant)
            else:
                PARSERS[owner](variant)


@pytest.mark.skipif(not PAPERS_DIR.is_dir(), reason="the papers lie beside the checkout")
@pytest.mark.parametrize("paper", PAPERS)
def test_every_reported_number_is_printed_in_the_paper(paper):
    meta = load_metafile(REPO / "workflow" / "papers" / f"{paper}.yaml")
    printed = printed_numbers(paper)
    missing = []
    for key, table in meta.tables.items():
        for row in table.rows:
            for column, cell in row.cells.items():
                value = cell.reported
                if value is not None and not {f"{value:g}", f"{value:.1f}",
                                              f"{value:.2f}"} & printed:
                    missing.append((key, row.method, column, value))
    assert not missing, missing


@pytest.mark.skipif(not PAPERS_DIR.is_dir(), reason="the papers lie beside the checkout")
@pytest.mark.parametrize("paper", PAPERS)
def test_every_dataset_count_is_printed_in_the_paper(paper):
    meta = load_metafile(REPO / "workflow" / "papers" / f"{paper}.yaml")
    printed = printed_numbers(paper)
    counts = [(dataset, key, n) for dataset, spec in meta.datasets.items()
              for key, n in spec.items() if n is not None]
    assert [c for c in counts if str(c[2]) not in printed] == []


@pytest.mark.skipif(not PAPERS_DIR.is_dir(), reason="the papers lie beside the checkout")
@pytest.mark.parametrize("paper", PAPERS)
def test_every_dictionary_row_is_printed_in_the_paper(paper):
    """A `savld` table's rows (IMD's Table 1) as the paper prints them: one line each, the
    video label, then its audio labels joined by ';'."""
    text = (PAPERS_DIR / f"{paper}.txt").read_text()
    meta = load_metafile(REPO / "workflow" / "papers" / f"{paper}.yaml")
    for table in meta.tables.values():
        for label, audio in table.labels.items():
            assert f"{label}\t{';'.join(audio)}" in text, (table.key, label)
