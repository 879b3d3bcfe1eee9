"""The audio-generation figure: per-class gains from sound, sorted, Table 5's classes marked."""

from avrepro.figures.audiogen import gain_figure


def runs(per_class: dict[str, float], seeds: int = 2) -> list[dict]:
    return [{"per_class": per_class} for _ in range(seeds)]


def test_bars_are_the_generated_gain_sorted_and_dots_the_real_gain():
    rgb = runs({"boiling": 10.0, "howling": 20.0, "mowing": 30.0})
    real = runs({"boiling": 10.0, "howling": 60.0, "mowing": 35.0})
    generated = runs({"boiling": 50.0, "howling": 40.0, "mowing": 30.0})
    fig = gain_figure(rgb, real, generated, ours={"boiling"}, papers={"howling", "whistling"})
    ax = fig.axes[0]
    bars = [patch.get_height() for patch in ax.patches]
    assert bars == [40.0, 20.0, 0.0]  # boiling, howling, mowing
    assert [t.get_text() for t in ax.get_xticklabels()] == ["boiling", "howling", "mowing"]
    assert list(ax.lines[0].get_ydata()) == [0.0, 40.0, 5.0]  # real sound, same order
    colours = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert colours["howling"] == "tab:red" and colours["mowing"] != "tab:red"
    assert "whistling" in ax.texts[0].get_text()  # a paper class the dataset lacks
