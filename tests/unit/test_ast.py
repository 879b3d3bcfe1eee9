"""AST (Gong et al. 2021; github.com/YuanGongND/ast): the model, the mapping of the released
AudioSet checkpoint onto it, and the smoke tier's tiny trained stand-in."""

import numpy as np
import pytest
import soundfile
import timm
import torch
from torch import nn

from avrepro.features.ast_features import build_ast
from avrepro.features.registry import WeightsError
from avrepro.features.weights import WeightsMismatchError
from avrepro.models.ast import AST, ASTConfig, released_to_ours
from avrepro.train import ast_smoke

TINY = ASTConfig(frames=100, dim=32, depth=2, heads=2)  # 1-s input, grid 12 x 9
DEIT = "deit_base_distilled_patch16_384"  # the timm model AST's `v` is


def test_published_geometry():
    cfg = ASTConfig()
    assert cfg.grid == (12, 101)  # 128 mel x 1024 frames, 16x16 patches every 10
    assert TINY.grid == (12, 9)
    assert ASTConfig(frames=300).grid == (12, 29)  # the smoke tier's 3-s clips


def test_forward_shapes_and_input_check():
    model = AST(TINY).eval()
    embedding, logits = model(torch.randn(3, 100, 128))
    assert embedding.shape == (3, 32) and logits.shape == (3, 527)
    assert model.pos_embed.shape == (1, 2 + 12 * 9, 32)
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(3, 128, 100))  # (B, F, T): the wrong way round


def released_layout(deit: nn.Module, mlp_head: nn.Module) -> dict[str, torch.Tensor]:
    """A checkpoint laid out as audioset_10_10_0.4593.pth: nn.DataParallel around AST, whose
    `v` is the timm DeiT (ImageNet heads included) and `mlp_head` its own head."""
    state = {f"module.v.{k}": v for k, v in deit.state_dict().items()}
    state.update({f"module.mlp_head.{k}": v for k, v in mlp_head.state_dict().items()})
    return state


def tiny_deit(cfg: ASTConfig) -> nn.Module:
    """timm's DeiT-B distilled with a tiny width/depth, one input channel and a patch count
    equal to AST's grid, its patch convolution given AST's stride as ast_models.py does."""
    f, t = cfg.grid
    deit = timm.create_model(
        DEIT, pretrained=False, img_size=(16 * f, 16 * t), in_chans=1,
        embed_dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads,
    )
    old = deit.patch_embed.proj
    deit.patch_embed.proj = nn.Conv2d(1, cfg.dim, 16, stride=(cfg.fstride, cfg.tstride))
    deit.patch_embed.proj.load_state_dict(old.state_dict())
    with torch.no_grad():  # timm initialises the tokens only in some modes: make them count
        for p in (deit.cls_token, deit.dist_token, deit.pos_embed):
            p.normal_(0, 0.5)
    return deit


def reference_forward(deit: nn.Module, mlp_head: nn.Module, x: torch.Tensor):
    """ASTModel.forward of the release, step by step on timm's modules."""
    x = x.unsqueeze(1).transpose(2, 3)
    x = deit.patch_embed.proj(x).flatten(2).transpose(1, 2)
    tokens = (deit.cls_token.expand(len(x), -1, -1), deit.dist_token.expand(len(x), -1, -1))
    x = torch.cat((*tokens, x), dim=1) + deit.pos_embed
    for block in deit.blocks:
        x = block(x)
    x = deit.norm(x)
    x = (x[:, 0] + x[:, 1]) / 2
    return x, mlp_head(x)


def test_released_checkpoint_loads_and_computes_as_the_release(tmp_path):
    torch.manual_seed(0)
    deit = tiny_deit(TINY).eval()
    mlp_head = nn.Sequential(nn.LayerNorm(TINY.dim), nn.Linear(TINY.dim, 527)).eval()
    path = tmp_path / "audioset_10_10_0.4593.pth"
    torch.save(released_layout(deit, mlp_head), path)
    model = build_ast(TINY, path)  # strict: every weight filled, every key used
    x = torch.randn(2, TINY.frames, TINY.n_mels)
    with torch.no_grad():
        want_embedding, want_logits = reference_forward(deit, mlp_head, x)
        embedding, logits = model(x)
    torch.testing.assert_close(embedding, want_embedding, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, want_logits, atol=1e-5, rtol=1e-5)


def test_released_layout_fits_the_full_size_model():
    """Key by key and shape by shape, at AST-B's size (on the meta device: no memory)."""
    f, t = ASTConfig().grid
    with torch.device("meta"):
        deit = timm.create_model(DEIT, pretrained=False, img_size=(16 * f, 16 * t), in_chans=1)
        mlp_head = nn.Sequential(nn.LayerNorm(768), nn.Linear(768, 527))
        ours = AST(ASTConfig())
    mapped = released_to_ours(released_layout(deit, mlp_head))
    assert {k: v.shape for k, v in mapped.items()} == {
        k: v.shape for k, v in ours.state_dict().items()
    }
    assert mapped["pos_embed"].shape == (1, 1214, 768)
    # pinned (AST-B: 86.59M) so that a change of architecture shows
    assert sum(p.numel() for p in ours.parameters()) == pytest.approx(86.59e6, rel=1e-3)


def test_checkpoint_of_another_layout_is_refused(tmp_path):
    state = {f"module.{k}": v for k, v in AST(TINY).state_dict().items()}  # no `v.`
    with pytest.raises(WeightsError, match="unknown keys"):
        released_to_ours(state)
    ours = AST(TINY).state_dict()
    del ours["norm.weight"]
    torch.save(ours, tmp_path / "partial.pt")
    with pytest.raises(WeightsMismatchError, match="norm.weight"):
        build_ast(TINY, tmp_path / "partial.pt")


def test_our_layout_round_trips(tmp_path):
    model = AST(TINY).eval()
    torch.save(model.state_dict(), tmp_path / "ast.pt")
    loaded = build_ast(TINY, tmp_path / "ast.pt")
    x = torch.randn(2, TINY.frames, TINY.n_mels)
    torch.testing.assert_close(loaded(x)[1], model(x)[1])
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training


def hf_to_ours(hf_state: dict[str, torch.Tensor], depth: int) -> dict[str, torch.Tensor]:
    """transformers' (5.x) ASTForAudioClassification weights in our layout: its separate
    q, k, v projections become one qkv Linear."""
    p = "audio_spectrogram_transformer."
    ours = {
        "cls_token": hf_state[p + "embeddings.cls_token"],
        "dist_token": hf_state[p + "embeddings.distillation_token"],
        "pos_embed": hf_state[p + "embeddings.position_embeddings"],
    }
    pairs = {
        "patch_embed.proj": p + "embeddings.patch_embeddings.projection",
        "norm": p + "layernorm",
        "mlp_head.0": "classifier.layernorm",
        "mlp_head.1": "classifier.dense",
    }
    for i in range(depth):
        layer = f"{p}layers.{i}."
        pairs |= {
            f"blocks.{i}.norm1": layer + "layernorm_before",
            f"blocks.{i}.attn.proj": layer + "attention.o_proj",
            f"blocks.{i}.norm2": layer + "layernorm_after",
            f"blocks.{i}.mlp.fc1": layer + "mlp.fc1",
            f"blocks.{i}.mlp.fc2": layer + "mlp.fc2",
        }
    for mine, theirs in pairs.items():
        for kind in ("weight", "bias"):
            ours[f"{mine}.{kind}"] = hf_state[f"{theirs}.{kind}"]
    for i in range(depth):
        for kind in ("weight", "bias"):
            qkv = [hf_state[f"{p}layers.{i}.attention.{n}_proj.{kind}"] for n in "qkv"]
            ours[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat(qkv)
    assert len(ours) == len(hf_state) - 2 * 2 * depth  # every weight used (q, k, v -> qkv)
    return ours


def test_same_outputs_as_transformers_ast():
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (the SAVLD helper adds it)"
    )
    hf_config = transformers.ASTConfig(
        hidden_size=TINY.dim, num_hidden_layers=TINY.depth, num_attention_heads=TINY.heads,
        intermediate_size=4 * TINY.dim, max_length=TINY.frames, num_mel_bins=TINY.n_mels,
        num_labels=527, layer_norm_eps=1e-6,
    )
    torch.manual_seed(0)
    hf = transformers.ASTForAudioClassification(hf_config).eval()
    model = AST(TINY).eval()
    # strict: every one of our weights comes from transformers' model
    model.load_state_dict(hf_to_ours(hf.state_dict(), TINY.depth), strict=True)
    x = torch.randn(2, TINY.frames, TINY.n_mels)
    with torch.no_grad():
        want = hf(input_values=x).logits
        _, logits = model(x)
    # transformers uses one LayerNorm eps for all norms; AST's head LN has 1e-5, not 1e-6
    torch.testing.assert_close(logits, want, atol=1e-4, rtol=1e-4)


# --- the smoke tier's AST, trained on synthetic tones ---

TONES = {3: 300.0, 10: 800.0, 40: 2000.0, 100: 5000.0}  # AudioSet index -> tone (Hz)


def render_tones(folder, per_label=6, seed=0):
    """One-second 16-kHz tones with jittered pitch and phase, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(16_000) / 16_000
    clips = []
    for label, hz in TONES.items():
        for k in range(per_label):
            pitch = hz * (1 + 0.02 * rng.standard_normal())
            x = 0.3 * np.sin(2 * np.pi * pitch * t + rng.uniform(0, 2 * np.pi))
            x += 0.01 * rng.standard_normal(len(t))
            path = folder / f"{label}_{k}.wav"
            soundfile.write(path, x.astype(np.float32), 16_000, subtype="PCM_16")
            clips.append((path, frozenset({label})))
    return clips


@pytest.fixture
def one_thread():
    """One torch thread (a shared 2-core machine), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_tiny_ast_learns_to_rank_the_true_label_first(tmp_path, one_thread):
    clips = render_tones(tmp_path)  # ~2 s of training
    schedule = ast_smoke.SmokeSchedule(epochs=30, batch_size=4, lr=2e-3)
    state, losses = ast_smoke.train(clips, TINY, schedule, seed=0)
    assert losses[-1] < losses[0] / 2
    model = AST(TINY)
    model.load_state_dict(state)
    assert ast_smoke.evaluate(model, clips)["top1_in_labels"] == 1.0
    # Labels never heard sit at the set's label rate (one label of four a clip) for every
    # clip, below each clip's own label: between it and those the AST learnt it lacks.
    inputs, targets = ast_smoke.clip_tensors(clips, TINY)
    scores = ast_smoke.predict(model, inputs)
    unseen = np.setdiff1d(np.arange(TINY.num_classes), list(TONES))
    np.testing.assert_allclose(scores[:, unseen], 1 / len(TONES), rtol=1e-5)
    assert (scores[targets.numpy().astype(bool)] > 1 / len(TONES)).all()
    (tmp_path / "held").mkdir()
    held_out = ast_smoke.evaluate(model, render_tones(tmp_path / "held", per_label=2, seed=1))
    assert set(held_out["ap"]) == set(TONES) and held_out["mAP"] > 0.9
    assert held_out["top1_in_labels"] >= 7 / 8  # unseen pitches and phases


def test_training_is_deterministic(tmp_path):
    clips = render_tones(tmp_path, per_label=1)
    schedule = ast_smoke.SmokeSchedule(epochs=2, batch_size=2)
    first, _ = ast_smoke.train(clips, TINY, schedule, seed=3)
    second, _ = ast_smoke.train(clips, TINY, schedule, seed=3)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_read_labelled_clips_and_split(tmp_path):
    names = ["Speech", "Male speech, man speaking", "Music"]
    (tmp_path / "labels.csv").write_text(
        'file,labels\na.wav,"Male speech, man speaking;Music"\nb.wav,Speech\nc.wav,Music\n'
    )
    clips = ast_smoke.read_labelled_clips(tmp_path, names)
    assert clips[0] == (tmp_path / "a.wav", frozenset({1, 2}))
    train, held = ast_smoke.split_clips(clips, 0.34, seed=0)
    assert len(held) == 1 and sorted(train + held) == sorted(clips)
    (tmp_path / "labels.csv").write_text("file,labels\na.wav,Vuvuzela\n")
    with pytest.raises(ValueError, match="Vuvuzela"):
        ast_smoke.read_labelled_clips(tmp_path, names)

