"""A transparent rule baseline: reporting verbs, quotation marks, skeptic sources and doubt words.

It follows the decision procedure's order with lexicons instead of understanding: a doubt or
dispute cue -> third_party_skepticism; else an attribution cue (reporting verb, "according
to", a quotation mark as `labels.QUOTE_MARKS` defines it) -> official_position; else
neutral_reporting. Every rule is a regular expression listed here, so a reader can see exactly
why it labelled a sentence as it did.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from newsstance.labels import LABEL2ID, QUOTE_MARKS

# words that doubt, dispute or criticise another party's claim or conduct
DOUBT = (
    r"doubt\w*", r"skeptic\w*", r"sceptic\w*", r"disput\w*", r"question(?:ed|s|ing)", r"dismiss\w*",
    r"reject(?:ed|s)? (?:the|his|her|their|its) (?:claim|account|argument|figures?|estimate)\w*",
    r"critici[sz]\w*", r"critics?", r"accus\w*", r"denounc\w*", r"condemn\w*", r"slam(?:s|med)?", r"blast(?:s|ed)?",
    r"baseless", r"unfounded", r"misleading", r"false(?:ly)?", r"absurd", r"smear", r"propaganda", r"exaggerat\w*",
    r"(?:remains|is) unclear whether", r"remains to be seen", r"far from (?:clear|certain)", r"cast doubt",
    r"(?:will|would|vowed to|plan to) (?:challenge|sue|appeal against|fight)", r"lawsuit", r"filed suit",
    r"opponents?", r"warned that", r"mock\w*", r"ridicul\w*", r"not convinced", r"unconvinced", r"contradict\w*",
)
# reporting verbs and attribution phrases of an actor's own voice
ATTRIBUTION = (
    r"said", r"says", r"told", r"announc\w*", r"insist\w*", r"vow\w*", r"pledg\w*", r"promis\w*",
    r"stated?", r"statement", r"according to", r"added", r"declar\w*", r"reiterat\w*", r"confirm\w*",
    r"argu\w*", r"maintain\w*", r"denied", r"denies", r"plans? to", r"intends? to", r"spokes(?:man|woman|person)",
)

_DOUBT = re.compile(r"\b(?:" + "|".join(DOUBT) + r")\b", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"\b(?:" + "|".join(ATTRIBUTION) + r")\b|" + QUOTE_MARKS, re.IGNORECASE)


def rule_label(sentence: str) -> str:
    if _DOUBT.search(sentence):
        return "third_party_skepticism"
    if _ATTRIBUTION.search(sentence):
        return "official_position"
    return "neutral_reporting"


def rule_baseline(sentences: Sequence[str]) -> np.ndarray:
    return np.array([LABEL2ID[rule_label(s)] for s in sentences])
