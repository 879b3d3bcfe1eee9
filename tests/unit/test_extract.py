"""Audio-image features of a shard: with flips, the four views of every image, the first
as rendered."""

import numpy as np
import pandas as pd
import soundfile

from avrepro.features.extract import FLIPS, audio_image_features, flip


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
