"""`trainlab clip-score IMAGE CAPTION...`: which caption fits an image, by a CLIP model (the extra `transfer`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from trainlab.errors import TrainlabError

DEFAULT_CLIP = "openai/clip-vit-base-patch32"


def score_captions(image: str | Path, captions: Sequence[str], pretrained: str = DEFAULT_CLIP) -> list[float]:
    """The probability CLIP gives each caption for the image (a softmax over the captions, so they sum to 1)."""
    from PIL import Image, UnidentifiedImageError

    from trainlab.models.hf_clip import score_captions as score

    if not captions:
        raise TrainlabError("captions: give at least one")
    try:
        pixels = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32) / 255
    except (FileNotFoundError, UnidentifiedImageError, OSError) as err:
        raise TrainlabError(f"{image}: not a readable image ({err})") from None
    return score(torch.from_numpy(pixels).permute(2, 0, 1), list(captions), pretrained)  # (3, H, W) in [0, 1]
