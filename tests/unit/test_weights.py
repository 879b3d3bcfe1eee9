import hashlib
import io
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import timm
import torch
import torchvision

from avrepro.data.download import ChecksumError
from avrepro.features.backbones import build_backbone
from avrepro.features.bninception import BNInception, load_tsn_state_dict
from avrepro.features.registry import BACKBONES, KNOWN_WEIGHTS, WeightsError
from avrepro.features.weights import (
    fetch_weights,
    load_state_dict_strict,
    read_state_dict,
    to_backbone_state_dict,
    weights_path,
)


class WeightsServer:
    """Serves `files` (path -> bytes) on 127.0.0.1 and counts the requests per path."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _saved(state_dict: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tsn_state() -> dict[str, torch.Tensor]:
    """A published-TSN-layout (mmaction: `backbone.` + `cls_head.`) BN-Inception state dict."""
    torch.manual_seed(0)
    state = {f"backbone.{k}": v for k, v in BNInception().state_dict().items()}
    return state | {"cls_head.fc_cls.weight": torch.zeros(400, 1024)}


@pytest.fixture(scope="module")
def server(tsn_state):
    linear = torch.nn.Linear(3, 2).state_dict()
    server = WeightsServer(
        {"/tsn-bninception.pth": _saved(tsn_state), "/linear.pth": _saved(linear)}
    )
    yield server
    server.close()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetches_once_and_reuses_the_cache(server, tsn_state, tmp_path):
    url = f"{server.url}/tsn-bninception.pth"
    digest = _sha256(server.files["/tsn-bninception.pth"])

    path = fetch_weights("tsn_bninception", tmp_path, url=url, sha256=digest)
    assert path == tmp_path / "tsn-bninception.pth"
    assert server.requests["/tsn-bninception.pth"] == 1
    assert fetch_weights("tsn_bninception", tmp_path, url=url, sha256=digest) == path
    assert server.requests["/tsn-bninception.pth"] == 1  # second call: no request

    model = BNInception()
    load_tsn_state_dict(model, read_state_dict(path))
    assert torch.equal(model.conv1_7x7_s2.weight, tsn_state["backbone.conv1_7x7_s2.weight"])
    # The file, as fetched, also loads through build_backbone.
    built = build_backbone("tsn_bninception", weights=path, seed=5)
    assert torch.equal(built.inception_5b_3x3.bias, tsn_state["backbone.inception_5b_3x3.bias"])


def test_accepts_the_hash_prefix_in_published_file_names(server, tmp_path):
    digest = _sha256(server.files["/linear.pth"])
    path = fetch_weights("resnet18", tmp_path, url=f"{server.url}/linear.pth", sha256=digest[:8])
    assert path.read_bytes() == server.files["/linear.pth"]


def test_checksum_mismatch_leaves_nothing_in_the_cache(server, tmp_path):
    cache = tmp_path / "weights"
    with pytest.raises(ChecksumError):
        fetch_weights("resnet18", cache, url=f"{server.url}/linear.pth", sha256="0" * 64)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_weights_path_is_offline_and_says_how_to_get_the_file(tmp_path):
    with pytest.raises(WeightsError, match="download rule") as caught:
        weights_path("resnet18", tmp_path)
    assert "resnet18-f37072fd.pth" in str(caught.value)
    (tmp_path / "resnet18-f37072fd.pth").write_bytes(b"")
    assert weights_path("resnet18", tmp_path) == tmp_path / "resnet18-f37072fd.pth"


def test_registry_covers_every_backbone_with_a_hash_named_file():
    # Every image backbone; other extractors (e.g. MAFnet's densenet.py, vggish.py) too.
    assert set(BACKBONES) | {"densenet201", "vggish"} <= set(KNOWN_WEIGHTS)
    for name, known in KNOWN_WEIGHTS.items():
        assert known.url.startswith(("http://", "https://")), name
        # The file name carries the checksum prefix (torch.hub convention) where the
        # publisher gives one (AENet's files have none).
        assert known.sha256 is None or f"-{known.sha256}." in known.file_name, name
    assert KNOWN_WEIGHTS["tsn_bninception"].file_name == "BNInceptionKinetics-47f0695e.pth"


def test_unknown_backbone_has_no_weights(tmp_path):
    with pytest.raises(WeightsError, match="known: .*efficientnet_b0"):
        fetch_weights("vgg16", tmp_path)


@pytest.mark.parametrize(
    ("name", "published", "expected"),
    [
        ("irv2", ["conv2d_1a.conv.weight", "last_linear.weight"], ["conv2d_1a.conv.weight"]),
        ("resnet101", ["module.layer1.0.conv1.weight", "fc.bias"], ["layer1.0.conv1.weight"]),
        ("efficientnet_b0", ["conv_stem.weight", "classifier.weight"], ["conv_stem.weight"]),
        (
            "tsn_bninception",
            ["module.base_model.conv1_7x7_s2.weight", "module.new_fc.weight"],
            ["conv1_7x7_s2.weight"],
        ),
        (
            "tsn_bninception",
            ["backbone.inception_3a_1x1.bias", "cls_head.fc_cls.bias", "data_preprocessor.mean"],
            ["inception_3a_1x1.bias"],
        ),
    ],
)
def test_key_remapping_on_tiny_state_dicts(name, published, expected):
    state = {key: torch.zeros(1) for key in published}
    assert list(to_backbone_state_dict(name, state)) == expected


def test_torchvision_resnet_file_layout_loads_into_the_timm_backbone():
    torchvision_state = torchvision.models.resnet18(weights=None).state_dict()
    model = build_backbone("resnet18", weights=None, seed=0)
    load_state_dict_strict(model, to_backbone_state_dict("resnet18", torchvision_state), "tv")
    assert torch.equal(model.conv1.weight, torchvision_state["conv1.weight"])


def test_cadene_irv2_file_layout_loads_into_the_timm_backbone():
    # Cadene's file: timm's key names, a 1001-way `last_linear`, no BN batch counters.
    timm_state = timm.create_model("inception_resnet_v2", num_classes=1001).state_dict()
    cadene_state = {
        k.replace("classif.", "last_linear."): v
        for k, v in timm_state.items()
        if not k.endswith("num_batches_tracked")
    }
    model = build_backbone("irv2", weights=None, seed=0)
    load_state_dict_strict(model, to_backbone_state_dict("irv2", cadene_state), "cadene")
    assert torch.equal(model.conv2d_7b.bn.running_var, cadene_state["conv2d_7b.bn.running_var"])


def test_read_state_dict_unwraps_training_checkpoints(tmp_path):
    state = torch.nn.Linear(3, 2).state_dict()
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "state_dict": dict(state)}, path)
    assert read_state_dict(path).keys() == state.keys()


def test_read_state_dict_rejects_unknown_formats_and_non_state_dicts(tmp_path):
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(WeightsError, match="weights.npz"):
        read_state_dict(tmp_path / "weights.npz")
    torch.save({"epoch": 3}, tmp_path / "meta.pth")
    with pytest.raises(WeightsError, match="meta.pth"):
        read_state_dict(tmp_path / "meta.pth")
