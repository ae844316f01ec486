"""Special tokens (in one place) and the vocabularies of translation data.

Every vocabulary puts the specials first: <pad> 0, <unk> 1, <s> 2 (SOS), </s> 3 (EOS), <sep> 4 (between
source and target in decoder-only models). Language-model text uses only <pad> and <unk>.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from trainlab.phases import phase

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<sep>")
PAD, UNK, SOS, EOS, SEP = range(len(SPECIALS))


class CharVocab:
    """Characters seen in the training text; anything else is <unk>."""

    def __init__(self, texts: Iterable[str]) -> None:
        chars = sorted(set().union(*map(set, texts)))
        self.itos = [*SPECIALS, *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [[self.stoi.get(c, UNK) for c in text] for text in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in ids if i >= len(SPECIALS) or i == UNK)


class BPEVocab:
    """Byte-level BPE (Sennrich et al. 2016; GPT-2's byte alphabet) from the `tokenizers` library, trained on
    the training split only. Byte-level: no <unk> ever, and decode(encode(s)) == s, so BLEU is computed on
    exactly the reference text."""

    @classmethod
    def trained(cls, texts: Sequence[str], size: int, min_frequency: int) -> BPEVocab:
        """The vocabulary of these texts and options, trained once per process: every data config of a
        translation study (and every check of it) shares one, and it is only read once trained."""
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
        key = (digest, len(texts), size, min_frequency)
        if key not in _TRAINED:
            with phase(f"training a byte-level BPE tokenizer of {size:,} tokens on {len(texts):,} texts"):
                _TRAINED[key] = cls(texts, size, min_frequency)
        return _TRAINED[key]

    def __init__(self, texts: Iterable[str], size: int, min_frequency: int) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        self.tokenizer = Tokenizer(models.BPE())
        self.tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        self.tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        self.tokenizer.train_from_iterator(texts, trainer)

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i >= len(SPECIALS)])


Vocab = CharVocab | BPEVocab
_TRAINED: dict[tuple[str, int, int, int], BPEVocab] = {}  # BPEVocab.trained's vocabularies
