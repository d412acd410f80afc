"""The annotation loop: pick the sentences worth labelling, then turn the labels into a table.

    newsstance annotate select --model M articles/ -n 200 -o tasks.csv      # select.py
    ... an annotator fills the `label` column, or labels the tasks in Label Studio ...
    newsstance annotate import tasks.csv -o my_labels.jsonl               # importer.py

tasks.py holds the task formats (JSONL, CSV, JSON, Label Studio) both ways.
"""

# the choices and defaults of `annotate select`, here so the CLI can name them without loading numpy
STRATEGIES = ("uncertainty", "random", "mixed")
MEASURES = ("margin", "entropy")  # margin: top-1 minus top-2 probability (small = unsure); entropy (large = unsure)
PER_ARTICLE_MAX = 8  # sentences from one article at most, so a few long articles cannot fill a batch
