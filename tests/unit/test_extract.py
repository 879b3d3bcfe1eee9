"""Audio-image features of a shard: with flips, the four views of every image, the first
as rendered."""

import numpy as np
import pandas as pd
import soundfile

from avrepro.features.extract import FLIPS, audio_image_features, flip, video_features
from avrepro.media.frame_store import write_frames


def test_flips_mirror_left_right_top_bottom_or_both():
    images = np.arange(2 * 2 * 3 * 3).reshape(2, 2, 3, 3).astype(np.uint8)  # (N, H, W, C)
    assert np.array_equal(flip(images, "none"), images)
    assert np.array_equal(flip(images, "horizontal")[:, :, 0], images[:, :, -1])
    assert np.array_equal(flip(images, "vertical")[:, 0], images[:, -1])
    assert np.array_equal(flip(images, "both"), images[:, ::-1, ::-1])


def test_flipped_views_are_embedded_beside_the_image_as_rendered(tmp_path):
    rate = 8000
    t = np.arange(rate) / rate
    for clip, freq in (("a", 440.0), ("b", 880.0)):
        soundfile.write(tmp_path / f"{clip}.wav", 0.5 * np.sin(2 * np.pi * freq * t), rate)
    pd.DataFrame({"clip_id": ["a", "b"], "audio_status": "ok"}).to_csv(
        tmp_path / "index.csv", index=False)
    kwargs = dict(audio_dir=tmp_path, backbone="resnet18", weights=None, codes=["ch", "wp"],
                  size=32, batch_size=4, device="cpu")
    ids, plain = audio_image_features(**kwargs)
    _, views = audio_image_features(**kwargs, flips=True)
    assert ids.tolist() == ["a", "b"]
    assert plain["ch"].shape == (2, 1, 512) and views["ch"].shape == (2, len(FLIPS), 512)
    np.testing.assert_allclose(views["ch"][:, 0], plain["ch"][:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(views["ch"][:, 0], views["ch"][:, 2])  # chroma rows upside down


def test_video_features_embed_every_tsn_view(tmp_path):
    """Features are view 0's (the segment centres), views every view's; a shard without
    views gives the same features and no views."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 3, 2, 32, 32, 3), dtype=np.uint8)  # 1 + 2 views of 2
    write_frames(tmp_path / "views.npz", "tsn", ["a", "b"], frames)
    write_frames(tmp_path / "plain.npz", "tsn", ["a", "b"], frames[:, 0])
    kwargs = dict(backbone="resnet18", weights=None, batch_size=4, device="cpu", chunk=1)
    ids, features, views = video_features(tmp_path / "views.npz", **kwargs)
    assert ids.tolist() == ["a", "b"]
    assert features.shape == (2, 2, 512) and views.shape == (2, 3, 2, 512)
    np.testing.assert_array_equal(features, views[:, 0])
    assert not np.allclose(views[:, 0], views[:, 1])
    _, plain, none = video_features(tmp_path / "plain.npz", **kwargs)
    assert none is None
    np.testing.assert_allclose(plain, features, rtol=1e-5, atol=1e-6)
