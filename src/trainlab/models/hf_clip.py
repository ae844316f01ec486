"""`hf_clip`: an image classifier from a CLIP model (Radford et al. 2021), three ways: `zero_shot` (each
class is the text embedding of its name in prompt templates; nothing is trained), `linear_probe` (a
linear head on the frozen image features) and `fine_tune` (the image tower and a head started from the
zero-shot class embeddings, all trained).

The CLIP implementation is Hugging Face transformers' (`CLIPModel`): the same architecture as OpenAI's and
open_clip's, loadable from the Hub (`openai/clip-vit-base-patch32`). open_clip itself requires torchvision,
which cannot sit beside trainlab's pinned CPU PyTorch, so it is not used. `pretrained: tiny-random` builds
a small randomly initialised CLIP with a word-level tokenizer of the prompts, for tests and the CI run of
the preset (it needs no download; its accuracy means nothing).

Images arrive with pixels in [0, 1] (`data.normalize: none`), any channel count and size: they are
brought to three channels and the model's image size, then normalised with CLIP's constants.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainlab import hub
from trainlab.data.base import DataInfo
from trainlab.errors import TrainlabError
from trainlab.spec.config import Named

# The normalisation CLIP was trained with (OpenAI's preprocessing).
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
TINY = "tiny-random"


class HFClipConfig(Named):
    name: str = "hf_clip"
    pretrained: str = "openai/clip-vit-base-patch32"
    mode: Literal["zero_shot", "linear_probe", "fine_tune"] = "zero_shot"
    templates: tuple[str, ...] = Field(("a photo of a {}.",), min_length=1)  # `{}` becomes the class name


def tiny_clip() -> tuple[Any, Any]:
    """A small random CLIP (2 layers of width 32 per tower, 28×28 images in 7×7 patches) and a word-level
    tokenizer; its vocabulary is built from the words it is asked to encode (see `_TinyTokenizer`)."""
    tf = hub.transformers()
    config = tf.CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "vocab_size": 512,
            "max_position_embeddings": 32,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 7,
        },
        projection_dim=16,
    )
    return tf.CLIPModel(config), _TinyTokenizer(512)


class _TinyTokenizer:
    """Words to ids in order of first sight (0 pad, 1 start, 2 end), for the tiny random CLIP only."""

    def __init__(self, size: int) -> None:
        self.size, self.ids = size, {}

    def __call__(self, texts: list[str], **_: Any) -> dict[str, torch.Tensor]:
        rows = [
            [1, *(self.ids.setdefault(w, 3 + len(self.ids) % (self.size - 3)) for w in t.lower().split()), 2]
            for t in texts
        ]
        width = max(map(len, rows))
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}


def load_clip(name: str) -> tuple[Any, Any]:
    """A CLIP model and its tokenizer, by name (on the meta device: the architecture alone)."""
    if name == TINY:
        return tiny_clip()
    tf = hub.transformers()
    if hub.on_meta_device():
        return tf.CLIPModel(hub.config(name)), None
    return hub.loading("pretrained", name, lambda path: tf.CLIPModel.from_pretrained(path)), hub.tokenizer(name)


def class_embeddings(clip: Any, tokenizer: Any, classes: tuple[str, ...], templates: tuple[str, ...]) -> torch.Tensor:
    """(classes, dim) unit vectors: each class's prompts embedded, averaged, renormalised (Radford et al.
    2021, §3.1.4: prompt ensembling)."""
    with torch.no_grad():
        out = []
        for name in classes:
            tokens = tokenizer([t.format(name) for t in templates], padding=True, return_tensors="pt")
            emb = F.normalize(_tensor(clip.get_text_features(**tokens)), dim=-1).mean(0)
            out.append(F.normalize(emb, dim=-1))
    return torch.stack(out)


def _tensor(out: Any) -> torch.Tensor:
    """transformers returns the projected features as a tensor (older) or in an output object (newer)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class ClipClassifier(nn.Module):
    # Why it trains alone under --pack (trainlab.train.packed reads this of any model): transformers' code
    # branches on tensor values (its attention masks), which vmap cannot batch.
    unpackable = "its Hugging Face model branches on tensor values, which vmap cannot batch"

    def __init__(self, clip: Any, weights: torch.Tensor, mode: str) -> None:
        super().__init__()
        self.vision, self.projection = clip.vision_model, clip.visual_projection  # the text tower is done with
        self.size = clip.config.vision_config.image_size
        self.scale = 1.0 if clip.logit_scale.is_meta else float(clip.logit_scale.detach().exp())
        self.head = nn.Linear(weights.shape[1], weights.shape[0], bias=False)
        if mode == "linear_probe":
            nn.init.normal_(self.head.weight, std=weights.shape[1] ** -0.5)
        else:  # zero-shot classes; fine-tuning starts from them
            self.head.weight.data.copy_(weights)
        towers = [self.vision, self.projection]
        self.frozen = {"zero_shot": [*towers, self.head], "linear_probe": towers, "fine_tune": []}[mode]
        for module in self.frozen:
            module.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> ClipClassifier:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def image_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) pixels in [0, 1] -> (B, dim) unit vectors."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grey -> RGB
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        pooled = self.vision(pixel_values=(x - self.mean) / self.std).pooler_output
        return F.normalize(self.projection(pooled), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits: scaled cosine similarity to each class (zero-shot, fine-tune) or a linear probe."""
        return self.scale * self.head(self.image_features(x))


def build_hf_clip(cfg: HFClipConfig, info: DataInfo) -> nn.Module:
    if info.task != "classification" or len(info.input_shape) != 3:
        raise TrainlabError("model.name: hf_clip classifies images; use an image dataset (e.g. fashion_mnist)")
    if not info.class_names:
        raise TrainlabError("model.name: hf_clip needs class names for its prompts; this dataset has none")
    if any("{}" not in t for t in cfg.templates):
        raise TrainlabError("model.templates: each template needs {} where the class name goes")
    clip, tokenizer = load_clip(cfg.pretrained)
    if hub.on_meta_device():  # counting parameters: the head's shape is all that matters
        return ClipClassifier(clip, torch.zeros(len(info.class_names), clip.config.projection_dim), cfg.mode)
    return ClipClassifier(clip, class_embeddings(clip, tokenizer, info.class_names, cfg.templates), cfg.mode)


def score_captions(image: torch.Tensor, captions: list[str], pretrained: str) -> list[float]:
    """Probability of each caption for one image (softmax of CLIP's scaled cosine similarities)."""
    clip, tokenizer = load_clip(pretrained)
    model = ClipClassifier(clip, class_embeddings(clip, tokenizer, tuple(captions), ("{}",)), "zero_shot").eval()
    with torch.no_grad():
        return model(image.unsqueeze(0)).softmax(-1)[0].tolist()
