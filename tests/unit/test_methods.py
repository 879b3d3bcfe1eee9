"""The extension point: methods declared in a package, their grammar, and what they may
not be called."""

import sys
import textwrap

import pytest

from avrepro.methods import Method, Reads, find, models_pattern, registry


def method(**changes) -> Method:
    spec = {"paper": "maivar", "model": "late", "keys": ("rep", "bb"),
            "reads": lambda options, config: Reads(runs=("vmlp",)), "run": lambda context: {}}
    return Method(**{**spec, **changes})


@pytest.fixture
def package(tmp_path, monkeypatch):
    """An empty package `mymethods` on sys.path: write modules into it."""
    folder = tmp_path / "mymethods"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield folder
    for name in [m for m in sys.modules if m.startswith("mymethods")]:
        del sys.modules[name]


def declare(package, name: str, body: str) -> None:
    (package / f"{name}.py").write_text(textwrap.dedent("""
        from avrepro.methods import Method, Reads
        """) + textwrap.dedent(body))


def test_options_follow_the_declared_grammar():
    late = method()
    assert late.options("late_rep-ch_bb-irv2") == {"rep": "ch", "bb": "irv2"}
    for wrong in ("late_bb-irv2_rep-ch", "late_rep-ch", "vmlp", "late_rep-ch_bb-irv2_x-1"):
        with pytest.raises(ValueError, match="expected late_rep-VALUE_bb-VALUE"):
            late.options(wrong)


def test_patterns_keep_methods_and_papers_own_models_apart():
    import re

    assert re.fullmatch(method().pattern, "late_rep-ch_bb-irv2")
    assert not re.fullmatch(method().pattern, "late_rep-ch")
    own = models_pattern(("vmlp", "amlp", "dhf"))
    assert re.fullmatch(own, "amlp_rep-ch_bb-irv2") and not re.fullmatch(own, "late_rep-ch")


def test_registry_finds_every_declaration(package):
    declare(package, "fusion", """
        METHOD = Method(paper="maivar", model="late", keys=("rep",),
                        reads=lambda o, c: Reads(), run=lambda c: {})
        """)
    (package / "helpers.py").write_text("X = 1\n")  # a module without METHOD is no method
    found = registry("mymethods")
    assert list(found) == [("maivar", "late")]
    assert found["maivar", "late"].module == "mymethods.fusion"
    assert find("maivar", "late_rep-ch", found).module == "mymethods.fusion"
    with pytest.raises(KeyError, match="no method 'vmlp' of maivar"):
        find("maivar", "vmlp", found)


@pytest.mark.parametrize(("body", "message"), [
    ('METHOD = Method(paper="maivar", model="dhf", keys=(), reads=None, run=None)',
     "one of maivar's own"),
    ('METHOD = Method(paper="nopaper", model="x", keys=(), reads=None, run=None)',
     "is not one of"),
    ('METHOD = Method(paper="maivar", model="Late", keys=(), reads=None, run=None)',
     "lower-case"),
    ("METHOD = 42", "not an avrepro.methods.Method"),
])
def test_bad_declarations_are_refused_naming_the_module(package, body, message):
    declare(package, "bad", body)
    with pytest.raises((ValueError, TypeError), match=message):
        registry("mymethods")


def test_two_modules_may_not_declare_one_method(package):
    for name in ("one", "two"):
        declare(package, name, """
            METHOD = Method(paper="mafnet", model="ens", keys=(), reads=None, run=None)
            """)
    with pytest.raises(ValueError, match="both declare"):
        registry("mymethods")


def test_the_packages_own_methods_load():
    # avrepro.methods itself: every module in it declares a valid method of its own name
    for (paper, model), declared in registry().items():
        assert declared.paper == paper and declared.model == model
