"""PolNeAR real-news labels: offsets and labels in the repository, text from a PolNeAR copy.

PolNeAR (Newell, Margolin & Ruths, LREC 2018) has no licence, so newsstance commits only
`file, start, end, label` rows and a manifest of each article file's SHA-256. The text is
rebuilt from a local copy, found in this order: the config's `data.polnear_dir`,
`$NEWSSTANCE_POLNEAR`, `../shared/realdata/polnear`, the download cache. `fetch()` fills the
cache from the public repository and checks every hash. PolNeAR's `test/` split is never
read, listed or downloaded: a manifest or label file that names it is refused.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from newsstance.errors import DataError
from newsstance.files import iter_jsonl, sha256_bytes, sha256_file, write_atomic
from newsstance.labels import LABELS

logger = logging.getLogger(__name__)

POLNEAR_ENV = "NEWSSTANCE_POLNEAR"
URL_ENV = "NEWSSTANCE_POLNEAR_URL"
DEFAULT_URL = "https://raw.githubusercontent.com/networkdynamics/PolNeAR/master/data"
MANIFEST = "polnear_manifest.json"
SHARED_COPY = Path("..") / "shared" / "realdata" / "polnear"
FETCH_HINT = (
    "run `newsstance data fetch polnear` (or set NEWSSTANCE_POLNEAR to a PolNeAR data folder), "
    "or train without real news: `newsstance train configs/offline.yaml`"
)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsstance" / "polnear"


def candidate_dirs(polnear_dir: str | None = None) -> list[Path]:
    dirs = [Path(polnear_dir)] if polnear_dir else []
    if os.environ.get(POLNEAR_ENV):
        dirs.append(Path(os.environ[POLNEAR_ENV]))
    return dirs + [SHARED_COPY, cache_dir()]


def is_test_file(name: str) -> bool:
    """A file of PolNeAR's held-out test split, which newsstance never uses."""
    return name.startswith("test/") or "/test/" in name


def load_manifest(folder: Path) -> dict[str, str]:
    """{article file: SHA-256}; refused if it lists a file of PolNeAR's test split."""
    path = folder / MANIFEST
    if not path.exists():
        raise DataError(f"{path}: PolNeAR manifest not found; it must sit beside the PolNeAR label files")
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    test = sorted(f for f in files if is_test_file(f))
    if test:
        raise DataError(
            f"{path}: lists {len(test)} file(s) of PolNeAR's test split, e.g. {test[0]}; the test split is never "
            "used (not fetched, not read): remove those entries from the manifest"
        )
    return files


def find_copy(files: list[str], polnear_dir: str | None = None) -> Path:
    """The first candidate folder that holds every needed article file."""
    for folder in candidate_dirs(polnear_dir):
        if all((folder / f).is_file() for f in files):
            return folder
    raise DataError(f"no PolNeAR copy found (looked in {', '.join(str(d) for d in candidate_dirs(polnear_dir))}); {FETCH_HINT}")


HOLDOUT_FRACTION = 0.21  # share of PolNeAR train/ articles held out as real-news validation (631 sentences)
SPLITS = ("train", "validation")  # values of the optional `split` field of PolNeAR label rows


def holdout_split(file: str) -> str:
    """`validation` for the articles of PolNeAR `train/` held out for model selection and
    calibration, else `train`. Depends on the file name alone, so it is stable as labels grow."""
    fraction = int(sha256_bytes(file.encode("utf-8"))[:8], 16) / 2**32
    return "validation" if fraction < HOLDOUT_FRACTION else "train"


def read_polnear_labels(path: Path, polnear_dir: str | None = None, split: str | None = None) -> pd.DataFrame:
    """Rows `file, start, end, label, sentence_index, prev_start, prev_end[, split]` -> standard
    frame; with `split`, only the rows whose `split` field equals it."""
    if not path.exists():
        raise DataError(f"{path}: PolNeAR label file not found")
    rows, numbers = [], []
    for number, row in iter_jsonl(path):
        missing = [k for k in ("file", "start", "end", "label", "sentence_index") if k not in row]
        if missing:
            raise DataError(f"{path}:{number}: missing field(s) {missing}; PolNeAR label rows need file, start, end, label, sentence_index")
        if row["label"] not in LABELS:
            raise DataError(f"{path}:{number}: unknown label {row['label']!r}; expected one of {', '.join(LABELS)}")
        if is_test_file(str(row["file"])):
            raise DataError(f"{path}:{number}: {row['file']} is in PolNeAR's test split, which is never used; remove the row")
        if split is not None and "split" not in row:
            raise DataError(f"{path}:{number}: the config selects split {split!r} but the row has no 'split' field; "
                            "run `python scripts/polnear_holdout.py` or remove `split` from the config")
        if split is not None and row["split"] != split:
            continue
        rows.append(row)
        numbers.append(number)
    if not rows:
        raise DataError(f"{path}: no rows" + (f" with split == {split!r}; check the split name in the config" if split else ""))
    texts = article_texts(path, sorted({r["file"] for r in rows}), polnear_dir)
    return pd.DataFrame([{**sentence_fields(path, line, r, texts[r["file"]]), "label": r["label"]}
                         for line, r in zip(numbers, rows)])


def article_texts(path: Path, files: list[str], polnear_dir: str | None = None) -> dict[str, str]:
    """{file: text} of the articles a label file at `path` names, each checked against the
    manifest beside it."""
    manifest = load_manifest(path.parent)
    unknown = [f for f in files if f not in manifest]
    if unknown:
        raise DataError(f"{path}: {len(unknown)} file(s) missing from {MANIFEST}, e.g. {unknown[0]}")
    copy = find_copy(files, polnear_dir)
    texts: dict[str, str] = {}
    for f in files:
        data = (copy / f).read_bytes()
        if sha256_bytes(data) != manifest[f]:
            raise DataError(
                f"{copy / f}: SHA-256 differs from {path.parent / MANIFEST}; this is not the PolNeAR v1.0.0 "
                "file the labels were made on. Fetch a clean copy with `newsstance data fetch polnear`"
            )
        texts[f] = data.decode("utf-8")
    return texts


def sentence_fields(path: Path, line: int, row: dict, text: str) -> dict:
    """The standard columns of an offsets row (`file, start, end, sentence_index[, prev_start,
    prev_end]`) with its article's text; offsets outside the article name the row."""
    if not (0 <= row["start"] < row["end"] <= len(text)):
        raise DataError(f"{path}:{line}: offsets {row['start']}-{row['end']} outside {row['file']}")
    prev = text[row["prev_start"]:row["prev_end"]] if row.get("prev_start") is not None else ""
    return {"text": text[row["start"]:row["end"]], "doc_id": row["file"], "sentence_index": row["sentence_index"],
            "previous": prev, "headline": text.split("\n", 1)[0].strip()}


def fetch(to: Path | None = None, labels_dir: Path = Path("data/external"), base_url: str | None = None) -> Path:
    """Make a verified PolNeAR copy available; returns its folder.

    A local copy (env or ../shared) is used as it is, or copied to `to`. Otherwise the article
    files named in the manifest are downloaded into `to` (default: the cache) and checked.
    A manifest that lists a test-split file is refused before anything is read or written.
    """
    manifest = load_manifest(labels_dir)
    target = Path(to) if to else None
    for folder in candidate_dirs()[:-1]:  # env, ../shared: local copies
        if all((folder / f).is_file() for f in manifest):
            if target is None:
                logger.info("using the local PolNeAR copy at %s", folder)
                return folder
            return _copy_verified(folder, target, manifest)
    target = target or cache_dir()
    base = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
    missing = [f for f in manifest if not ((target / f).is_file() and sha256_file(target / f) == manifest[f])]
    logger.info("downloading %d PolNeAR files to %s", len(missing), target)
    from tqdm.auto import tqdm

    for f in tqdm(missing, desc="PolNeAR", unit="file"):
        url = f"{base}/{f}"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DataError(f"cannot download {url} ({exc}); check the network, or set {POLNEAR_ENV} to a local copy") from None
        if sha256_bytes(data) != manifest[f]:
            raise DataError(f"{url}: downloaded file's SHA-256 differs from the manifest; the repository changed. Nothing was written for it")
        write_atomic(target / f, data)
    return target


def _copy_verified(source: Path, target: Path, manifest: dict[str, str]) -> Path:
    for f, digest in manifest.items():
        data = (source / f).read_bytes()
        if sha256_bytes(data) != digest:
            raise DataError(f"{source / f}: SHA-256 differs from the manifest; not the PolNeAR v1.0.0 file")
        write_atomic(target / f, data)
    return target
