"""Data-parallel IMD training (avrepro.train.distributed): two processes on the CPU (gloo,
started by torchrun) take the steps one process takes with the same global batch."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_imd_train import hparams, make_set, spec

from avrepro.train import distributed as D
from avrepro.train import imd as T


def test_each_process_takes_its_share_of_every_global_batch():
    one = D.epoch_order(50, 8, seed=3, epoch=1)
    assert one.shape == (6, 8)  # 50 clips: 6 full batches, the last 2 clips dropped
    assert len(set(one.ravel())) == 48
    shares = [D.epoch_order(50, 8, 3, 1, rank, 2) for rank in (0, 1)]
    assert all(s.shape == (6, 4) for s in shares)
    for j in range(6):
        assert sorted([*shares[0][j], *shares[1][j]]) == sorted(one[j])
    assert not np.array_equal(one, D.epoch_order(50, 8, 3, 2))  # a new order every epoch
    np.testing.assert_array_equal(one, D.epoch_order(50, 8, 3, 1))
    with pytest.raises(ValueError, match="does not split"):
        D.epoch_order(50, 8, 3, 1, 0, 3)


def test_test_positions_are_shared_without_padding_and_put_back_in_order():
    parts = [D.epoch_order(7, 1, 0, 0, rank, 3, drop_last=False)[0] for rank in range(3)]
    assert [list(p) for p in parts] == [[0, 3, 6], [1, 4], [2, 5]]
    gathered = np.concatenate(parts)
    np.testing.assert_array_equal(gathered, D.interleaved(7, 3))
    np.testing.assert_array_equal(gathered[np.argsort(D.interleaved(7, 3))], np.arange(7))


def test_one_process_runs_without_a_process_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = D.setup("cpu")
    assert (context.rank, context.world_size, context.is_main) == (0, 1, True)
    assert D.all_sum([1.5, 2], context) == [1.5, 2.0]
    assert not torch.distributed.is_initialized()


def test_schedule_splits_the_global_batch_into_passes():
    s = T.Schedule(epochs=1, batch_size=64, lr=0.005, lr_steps=[11, 14], momentum=0.9,
                   weight_decay=1e-4, micro_batch=4)
    assert s.passes(8) == (8, 2) and s.passes(1) == (64, 16)
    assert [s.lr_factor(e) for e in (0, 10, 11, 13, 14)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01])
    with pytest.raises(ValueError, match="does not split"):
        s.passes(3)


def test_two_processes_train_the_weights_one_process_trains(tmp_path, fixtures_dir):
    """The same global batch of 8: one process in two passes of 4 (gradient accumulation),
    two processes (gloo) of 4 each; the same weights and test scores. Dropout and stochastic
    depth are off (tests' NETWORK), so nothing random differs between the two. Gradients
    are clipped (after DDP's averaging, so alike in both)."""
    make_set(tmp_path, fixtures_dir)
    h = hparams(epochs=2)
    h["schedule"] = h["schedule"] | {"clip_grad": 0.5}
    one = spec(tmp_path, fixtures_dir, out="one",
               hparams=h | {"schedule": h["schedule"] | {"micro_batch": 4}})
    T.run_imd(**one)
    two = spec(tmp_path, fixtures_dir, out="two", hparams=h)
    (tmp_path / "spec.json").write_text(json.dumps(two))
    D.launch(tmp_path / "spec.json", 2)

    a = torch.load(tmp_path / "one" / "model.pt", weights_only=False)["state"]
    b = torch.load(tmp_path / "two" / "model.pt", weights_only=False)["state"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-5, msg=key)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    one_p = pd.read_parquet(tmp_path / "one" / "predictions.parquet")
    two_p = pd.read_parquet(tmp_path / "two" / "predictions.parquet")
    assert list(one_p.clip_id) == list(two_p.clip_id)
    np.testing.assert_allclose(np.stack(one_p.probs), np.stack(two_p.probs), atol=1e-5)
    history = [pd.read_csv(tmp_path / run / "history.csv") for run in ("one", "two")]
    np.testing.assert_allclose(history[0].train_loss, history[1].train_loss, rtol=1e-5)
