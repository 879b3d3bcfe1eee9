"""Figure 4 pools its systems' confusion matrices over seeds."""

import numpy as np
import pytest

from avrepro.figures.twophase import fig4_confusions, pooled_confusion, row_percent


def run(variant, confusion, classes=("bus", "tram")):
    return {"variant": variant, "classes": list(classes), "confusion": confusion}


def test_confusions_are_summed_over_seeds_and_rows_normalised():
    confusion, classes = pooled_confusion([run("f", [[3, 1], [0, 4]]), run("f", [[1, 3], [0, 0]])])
    assert confusion.tolist() == [[4, 4], [0, 4]] and classes == ["bus", "tram"]
    assert row_percent(np.array([[4, 4], [0, 4], [0, 0]])).tolist() == [
        [50.0, 50.0], [0.0, 100.0], [0.0, 0.0]]


def test_runs_with_other_classes_are_refused():
    with pytest.raises(ValueError, match="disagree on their classes"):
        pooled_confusion([run("f", [[1, 0], [0, 1]]), run("f", [[1, 0], [0, 1]], ("a", "b"))])


def test_one_panel_per_system_with_its_accuracy():
    fig = fig4_confusions({"audio": [run("a", [[3, 1], [1, 3]])],
                           "visual": [run("v", [[4, 0], [0, 4]])]})
    assert [ax.get_title() for ax in fig.axes] == ["audio: 75.0 % (1 seeds)",
                                                   "visual: 100.0 % (1 seeds)"]
