"""The three labels: the single source of truth for their names and order.

The ids follow the product specification (LABELS.md): official_position=0,
third_party_skepticism=1, neutral_reporting=2. Everything else derives from here.
"""

from __future__ import annotations

import re

LABELS: tuple[str, ...] = ("official_position", "third_party_skepticism", "neutral_reporting")
LABEL2ID: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))

DESCRIPTIONS: dict[str, str] = {
    "official_position": "a principal actor states, restates or explains its own position, claim or account",
    "third_party_skepticism": "someone doubts, questions, disputes or criticises another party's claim or position",
    "neutral_reporting": "the narrator's factual account: events, background, context, neutral facts",
}

# What counts as a quoted sentence, for the rule baseline and the "quoted" evaluation slice:
# a double quotation mark in any common form (straight, curly, low-9, guillemets) or the
# typewriter pairs `` and ''. Single curly quotes are left out on purpose: ’ is also the
# apostrophe ("the minister’s plan" is not a quotation).
QUOTE_MARKS = r"[\"“”„«»]|``|''"
_QUOTE = re.compile(QUOTE_MARKS)


def is_quoted(sentence: str) -> bool:
    """Whether the sentence holds a quotation mark (see QUOTE_MARKS)."""
    return _QUOTE.search(sentence) is not None
