"""MAiVAR's classifiers: sizes as printed, and Algorithm 1's weight injection."""

import torch

from avrepro.models.maivar import MLP, DominantHeadFusion, l1_penalty

AUDIO, SEGMENTS, VIDEO, CLASSES = 1536, 25, 1024, 51  # IRV2 pool; TSN 25 x 1024; UCF51


def test_video_mlp_sees_all_25_segments():
    vmlp = MLP(SEGMENTS * VIDEO, CLASSES)
    assert vmlp.hidden.in_features == 25_600 and vmlp.hidden.out_features == 1024
    assert vmlp(torch.randn(3, SEGMENTS, VIDEO)).shape == (3, CLASSES)


def test_fusion_concatenates_audio_and_video_into_1024_hidden_units():
    dhf = DominantHeadFusion(AUDIO, SEGMENTS * VIDEO, CLASSES)
    assert dhf.hidden.in_features == AUDIO + 25_600 and dhf.hidden.out_features == 1024
    out = dhf(torch.randn(2, AUDIO), torch.randn(2, SEGMENTS, VIDEO))
    assert out.shape == (2, CLASSES)
    assert dhf.embed(torch.randn(2, AUDIO), torch.randn(2, SEGMENTS, VIDEO)).min() >= 0  # ReLU


def test_fusion_initialised_from_video_mlp_computes_the_video_mlp():
    torch.manual_seed(0)
    vmlp, dhf = MLP(SEGMENTS * VIDEO, CLASSES), DominantHeadFusion(AUDIO, SEGMENTS * VIDEO, CLASSES)
    dhf.init_from_video_mlp(vmlp)
    audio, video = torch.randn(4, AUDIO), torch.randn(4, SEGMENTS, VIDEO)
    torch.testing.assert_close(dhf(audio, video), vmlp(video))
    # ... and audio still gets a gradient, so fusion can learn from it
    dhf(audio, video).sum().backward()
    assert dhf.hidden.weight.grad[:, :AUDIO].abs().sum() > 0


def test_l1_penalty_counts_weights_not_biases():
    model = MLP(2, 2, hidden=2)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(-1.0)
    assert l1_penalty(model).item() == 2 * 2 + 2 * 2
