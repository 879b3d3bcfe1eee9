"""The training loop is deterministic for a seed and a killed run resumes to the same end."""

import pytest
import torch

from avrepro.models.maivar import MLP
from avrepro.train import loop
from avrepro.train.loop import Schedule, Split, fit

DEVICE = torch.device("cpu")


def toy_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return Split(inputs=(x,), labels=(x[:, 0] > 0).long())


def train(tmp_path, epochs, fingerprint="run", name="ckpt.pt", checkpoint_interval_s=0.0):
    torch.manual_seed(3)
    model = MLP(8, 2, hidden=16)
    result = fit(model, toy_split(64, 0), toy_split(16, 1), toy_split(16, 2),
                 Schedule(epochs=epochs, batch_size=8, lr=1e-2), seed=3,
                 checkpoint=tmp_path / name, device=DEVICE, fingerprint=fingerprint,
                 checkpoint_interval_s=checkpoint_interval_s)
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


def saved_epochs(monkeypatch) -> list[int]:
    """The epochs after which fit writes its checkpoint (the writes themselves are skipped)."""
    saved = []
    monkeypatch.setattr(loop, "_save_atomic", lambda state, path: saved.append(state["epoch"]))
    return saved


def test_checkpoints_follow_the_wall_clock_and_the_last_epoch_is_always_saved(
        tmp_path, monkeypatch):
    saved = saved_epochs(monkeypatch)
    train(tmp_path, 6, checkpoint_interval_s=3600)  # seconds of training, an hour's interval
    assert saved == [5]
    saved.clear()
    train(tmp_path, 6, checkpoint_interval_s=0)
    assert saved == [0, 1, 2, 3, 4, 5]
    # A clock that moves 100 s per reading: fit reads it once at the start and once after
    # each epoch, so with a 250 s interval every third epoch is saved, and the last.
    saved.clear()
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(loop.time, "monotonic", lambda: next(clock))
    train(tmp_path, 8, checkpoint_interval_s=250)
    assert saved == [2, 5, 7]


def test_a_changed_run_does_not_resume_a_foreign_checkpoint(tmp_path):
    train(tmp_path, 3, fingerprint="old")
    _, result = train(tmp_path, 5, fingerprint="new")
    assert [h["epoch"] for h in result.history] == list(range(5))


def test_patience_stops_after_that_many_epochs_without_a_better_validation(tmp_path):
    torch.manual_seed(3)
    model = MLP(8, 2, hidden=16)
    # lr 0: validation accuracy never improves after epoch 0.
    result = fit(model, toy_split(64, 0), toy_split(16, 1), toy_split(16, 2),
                 Schedule(epochs=50, batch_size=8, lr=0.0, patience=4), seed=3,
                 checkpoint=tmp_path / "c.pt", device=DEVICE, fingerprint="p")
    assert result.best_epoch == 0
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3, 4]
    # The early-stopped run is finished: running it again starts afresh, not resumes.
    assert torch.load(tmp_path / "c.pt", weights_only=False)["finished"]


def test_train_step_supplies_the_loss(tmp_path):
    seen = []

    def frozen_first_layer_step(model, inputs, labels, generator):
        seen.append(float(torch.rand((), generator=generator)))
        logits = model.head(torch.relu(model.hidden(inputs[0])).detach())
        return torch.nn.functional.cross_entropy(logits, labels), logits

    torch.manual_seed(3)
    model = MLP(8, 2, hidden=16)
    before = model.hidden.weight.detach().clone()
    fit(model, toy_split(64, 0), toy_split(16, 1), toy_split(16, 2),
        Schedule(epochs=2, batch_size=8, lr=1e-2), seed=3,
        checkpoint=tmp_path / "c.pt", device=DEVICE, fingerprint="s",
        train_step=frozen_first_layer_step)
    assert torch.equal(model.hidden.weight, before)  # no gradient reached it: no update
    assert len(seen) == 2 * 8 and len(set(seen)) == len(seen)


def test_test_accuracy_is_recorded_per_epoch_only_when_asked(tmp_path):
    _, plain = train(tmp_path, 2)
    assert "test_acc" not in plain.history[0]
    torch.manual_seed(3)
    result = fit(MLP(8, 2, hidden=16), toy_split(64, 0), toy_split(16, 1), toy_split(16, 2),
                 Schedule(epochs=2, batch_size=8, lr=1e-2), seed=3, checkpoint=tmp_path / "t.pt",
                 device=DEVICE, fingerprint="t", record_test=True)
    assert [sorted(h) for h in result.history] == [sorted([*plain.history[0], "test_acc"])] * 2
    # Evaluating the test set changes nothing else: the same weights, the same history.
    assert [{k: h[k] for k in plain.history[0]} for h in result.history] == plain.history


class Squares:
    """A split input read per batch (as a store is): example i is the row [i, i * i]."""

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.stack([idx, idx * idx], dim=1)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_input_read_per_batch_gives_the_batches_of_a_tensor(workers):
    labels = torch.arange(10) % 3
    read = Split(inputs=(Squares(),), labels=labels, workers=workers)
    held = Split(inputs=(torch.stack([torch.arange(10), torch.arange(10) ** 2], 1),),
                 labels=labels)
    for generator in (None, 5):
        batches = [list(s.batches(4, generator and torch.Generator().manual_seed(generator)))
                   for s in (read, held)]
        assert [len(b[1]) for b in batches[0]] == [4, 4, 2]
        for ((x,), y), ((x_held,), y_held) in zip(*batches, strict=True):
            assert torch.equal(x, x_held) and torch.equal(y, y_held)
    # Workers draw nothing from torch's global generator (dropout's): a run's draws do
    # not depend on them.
    torch.manual_seed(0)
    list(read.batches(4, torch.Generator().manual_seed(1)))
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))
