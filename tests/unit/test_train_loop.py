"""The training loop is deterministic for a seed and a killed run resumes to the same end."""

import pytest
import torch

from avrepro.models.maivar import MLP
from avrepro.train.loop import Schedule, Split, fit

DEVICE = torch.device("cpu")


def toy_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return Split(inputs=(x,), labels=(x[:, 0] > 0).long())


def train(tmp_path, epochs, fingerprint="run", name="ckpt.pt"):
    torch.manual_seed(3)
    model = MLP(8, 2, hidden=16)
    result = fit(model, toy_split(64, 0), toy_split(16, 1), toy_split(16, 2),
                 Schedule(epochs=epochs, batch_size=8, lr=1e-2), seed=3,
                 checkpoint=tmp_path / name, device=DEVICE, fingerprint=fingerprint)
    return model, result


def test_learns_and_selects_best_validation_epoch(tmp_path):
    _, result = train(tmp_path, epochs=15)
    accs = [h["val_acc"] for h in result.history]
    assert result.best_epoch == accs.index(max(accs))
    assert max(accs) > 0.8


def test_same_seed_same_weights(tmp_path):
    a, _ = train(tmp_path, 5, name="a.pt")
    b, _ = train(tmp_path, 5, name="b.pt")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_resume_after_kill_matches_uninterrupted(tmp_path, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "killed").mkdir()
    full, full_result = train(tmp_path / "full", 10)

    # Kill the second run during epoch 6 (checkpoints are written after every epoch).
    calls = {"n": 0}
    real_step = torch.optim.Adam.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 6 * 8 + 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", 10)
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    resumed, resumed_result = train(tmp_path / "killed", 10)

    assert resumed_result.history == full_result.history
    for pa, pb in zip(full.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_a_changed_run_does_not_resume_a_foreign_checkpoint(tmp_path):
    train(tmp_path, 3, fingerprint="old")
    _, result = train(tmp_path, 5, fingerprint="new")
    assert [h["epoch"] for h in result.history] == list(range(5))
