"""What the model sees besides the sentence: one rule, used at training and prediction time.

The context is a second segment made of the article's headline and/or the previous sentence
of the same article. It is built here and nowhere else, so training and prediction agree.
"""

from __future__ import annotations

import pandas as pd

from newsstance.config import ContextConfig

SEPARATOR = " | "


def context_text(settings: ContextConfig, previous: str = "", headline: str = "") -> str | None:
    """The second segment for one sentence, or None when the model sees the sentence alone."""
    if not (settings.previous_sentence or settings.headline):
        return None
    parts = []
    if settings.headline and headline:
        parts.append(headline)
    if settings.previous_sentence and previous:
        parts.append(previous)
    return SEPARATOR.join(parts)


def add_neighbours(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill `previous` and `headline` from the table itself where the source did not give them.

    previous: the row of the same article with sentence_index - 1 ("" for the first sentence or
    when that row is absent); headline: the article's row with sentence_index 0.
    """
    frame = frame.copy()
    key = list(zip(frame["doc_id"], frame["sentence_index"]))
    lookup = dict(zip(key, frame["text"]))
    derived_prev = [lookup.get((d, i - 1), "") for d, i in key]
    derived_head = [lookup.get((d, 0), "") for d, _ in key]
    for column, derived in (("previous", derived_prev), ("headline", derived_head)):
        if column in frame.columns:
            given = frame[column]
            frame[column] = [g if isinstance(g, str) else d for g, d in zip(given, derived)]
        else:
            frame[column] = derived
    # the headline sentence has no headline context of its own
    frame.loc[frame["sentence_index"] == 0, "headline"] = ""
    return frame


def article_neighbours(sentences: list[str], title: str | None = None) -> tuple[list[str], list[str]]:
    """(previous, headline) for the sentences of one article, by the same rule as add_neighbours:
    the sentence before in the article, and the headline (the title, else the first sentence),
    which the headline itself does not get."""
    headline = title or (sentences[0] if sentences else "")
    previous = [""] + sentences[:-1]
    return previous, ["" if i == 0 else headline for i in range(len(sentences))]


def contexts(frame: pd.DataFrame, settings: ContextConfig) -> list[str | None]:
    return [context_text(settings, p, h) for p, h in zip(frame["previous"], frame["headline"])]


def tokenize(tokenizer, texts: list[str], pairs: list[str | None], max_length: int):
    """Tokenize sentences with their context as a second segment (when the model uses one).

    `longest_first` trims the longer segment token by token, so a long context gives way to the
    sentence, and a sentence longer than max_length alone is still cut rather than rejected.
    """
    use_pairs = any(c is not None for c in pairs)
    return tokenizer(
        list(texts), [c or "" for c in pairs] if use_pairs else None,
        truncation="longest_first", max_length=max_length,
    )
