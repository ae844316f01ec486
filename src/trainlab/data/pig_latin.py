"""English -> Pig Latin, the translation task of the CSC413 (Toronto) assignment, generated from a word list.

The rules, per word (letters only; what follows the letters, such as punctuation, stays at the end):
- a word starting with a vowel (a, e, i, o, u) gets "way": apple -> appleway, egg! -> eggway!;
- otherwise its leading consonant cluster moves to the end, followed by "ay": string -> ingstray,
  pig -> igpay; "qu" belongs to the cluster (quiet -> ietquay, square -> aresquay); "y" is a consonant at
  the start and a vowel after it (yellow -> ellowyay, rhythm -> ythmrhay);
- a word with no vowel at all gets "ay": hmm -> hmmay;
- capitals stay where they were: a capitalised word stays capitalised (Hello -> Ellohay), an
  all-capitals word stays in capitals (NASA -> ASANAY).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

VOWELS = set("aeiou")
WORD = re.compile(r"^([A-Za-z]+)(.*)$", re.DOTALL)


def _cluster_end(lower: str) -> int:
    """Where the leading consonant cluster of a lower-case word ends (its length)."""
    i = 0
    while i < len(lower):
        if lower[i] in VOWELS or (lower[i] == "y" and i > 0):
            if lower[i] == "u" and i > 0 and lower[i - 1] == "q":  # "qu" moves together
                i += 1
                continue
            return i
        i += 1
    return i


def word_to_pig_latin(word: str) -> str:
    match = WORD.match(word)
    if match is None:  # no leading letters: numbers, punctuation
        return word
    letters, rest = match.groups()
    lower = letters.lower()
    cut = _cluster_end(lower)
    if cut == 0:
        moved = lower + "way"
    else:
        moved = lower[cut:] + lower[:cut] + "ay"
    if letters.isupper() and len(letters) > 1:
        moved = moved.upper()
    elif letters[0].isupper():
        moved = moved[0].upper() + moved[1:]
    return moved + rest


def to_pig_latin(text: str) -> str:
    return " ".join(word_to_pig_latin(w) for w in text.split(" "))


def phrases(words: Sequence[str], count: int, max_words: int, seed: int) -> list[str]:
    """`count` distinct phrases of 1..max_words words drawn from `words` (fewer if the words run out)."""
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    attempts = 0
    while len(seen) < count and attempts < 20 * count:
        attempts += 1
        seen.setdefault(" ".join(rng.choice(words) for _ in range(rng.randint(1, max_words))), None)
    return list(seen)
