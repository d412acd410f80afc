"""The three labels: the single source of truth for their names and order.

The ids follow the product specification (LABELS.md): official_position=0,
third_party_skepticism=1, neutral_reporting=2. Everything else derives from here.
"""

from __future__ import annotations

LABELS: tuple[str, ...] = ("official_position", "third_party_skepticism", "neutral_reporting")
LABEL2ID: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))

DESCRIPTIONS: dict[str, str] = {
    "official_position": "a principal actor states, restates or explains its own position, claim or account",
    "third_party_skepticism": "someone doubts, questions, disputes or criticises another party's claim or position",
    "neutral_reporting": "the narrator's factual account: events, background, context, neutral facts",
}
