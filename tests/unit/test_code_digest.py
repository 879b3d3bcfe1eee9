"""Runs follow their code: the digest covers what a training module imports, and no more."""

import subprocess
import sys

import pytest

from avrepro import code_digest as cd


def test_closure_follows_imports_through_other_modules():
    modules = cd.closure("avrepro.train.maivar")
    assert "avrepro.models.maivar" in modules  # imported by the training module
    assert "avrepro.train.loop" in modules
    assert "avrepro.models.mafnet" not in modules  # another paper's model
    assert "avrepro.train.twophase" not in modules


def test_a_training_free_run_depends_on_no_model():
    late = cd.closure("avrepro.train.late_fusion")
    assert "avrepro.variants.audiogen" in late and "avrepro.models.audiogen" not in late


def test_editing_an_imported_module_changes_the_digest(tmp_path, monkeypatch):
    package = tmp_path / "avrepro"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("")
    (package / "models" / "net.py").write_text("WIDTH = 1\n")
    (package / "models" / "other.py").write_text("X = 1\n")
    (package / "train.py").write_text("def run():\n    from avrepro.models import net\n")
    monkeypatch.setattr(cd, "ROOT", package)
    cd.imported_modules.cache_clear()
    cd.code_digest.cache_clear()
    before = cd.code_digest("avrepro.train")
    (package / "models" / "other.py").write_text("X = 2\n")  # not imported by train
    cd.code_digest.cache_clear()
    assert cd.code_digest("avrepro.train") == before
    (package / "models" / "net.py").write_text("WIDTH = 2\n")
    cd.code_digest.cache_clear()
    assert cd.code_digest("avrepro.train") != before
    cd.imported_modules.cache_clear()
    cd.code_digest.cache_clear()


def test_unknown_modules_are_refused():
    with pytest.raises(ValueError, match="not a module"):
        cd.imported_modules("avrepro.nowhere")


def test_digest_needs_no_torch():
    code = ("import sys; from avrepro.code_digest import code_digest; "
            "code_digest('avrepro.train.mafnet'); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
