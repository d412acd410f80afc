"""PolNeAR offsets-only labels: rebuild from a copy, refuse changed files, fetch over HTTP."""

import hashlib
import http.server
import json
import threading
from functools import partial

import pytest

from newsstance.data import polnear
from newsstance.data.polnear import fetch, read_polnear_labels
from newsstance.errors import DataError

ARTICLE = "Senator Vows To Block Bill\n\nThe senator said she would block the bill. Critics called that a stunt.\n"


def _layout(tmp_path):
    """A fake PolNeAR copy (text written for this test) and a label folder with its manifest."""
    copy = tmp_path / "copy"
    (copy / "train" / "text").mkdir(parents=True)
    (copy / "train" / "text" / "a.txt").write_text(ARTICLE)
    labels = tmp_path / "external"
    labels.mkdir()
    digest = hashlib.sha256(ARTICLE.encode()).hexdigest()
    (labels / "polnear_manifest.json").write_text(json.dumps({"files": {"train/text/a.txt": digest}}))
    s1 = ARTICLE.index("The senator")
    s2 = ARTICLE.index("Critics")
    rows = [
        {"file": "train/text/a.txt", "start": s1, "end": s2 - 1, "label": "official_position", "sentence_index": 1,
         "prev_start": 0, "prev_end": 26},
        {"file": "train/text/a.txt", "start": s2, "end": len(ARTICLE) - 1, "label": "third_party_skepticism",
         "sentence_index": 2, "prev_start": s1, "prev_end": s2 - 1},
    ]
    (labels / "polnear_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return copy, labels


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSSTANCE_POLNEAR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(polnear, "SHARED_COPY", tmp_path / "no-shared")


def test_rebuilds_text_previous_and_headline(tmp_path, monkeypatch):
    copy, labels = _layout(tmp_path)
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    frame = read_polnear_labels(labels / "polnear_train.jsonl")
    assert list(frame["text"]) == ["The senator said she would block the bill.", "Critics called that a stunt."]
    assert frame["previous"][1] == frame["text"][0]
    assert set(frame["headline"]) == {"Senator Vows To Block Bill"}


def test_changed_file_is_refused(tmp_path):
    copy, labels = _layout(tmp_path)
    (copy / "train" / "text" / "a.txt").write_text(ARTICLE.replace("stunt", "trick"))
    with pytest.raises(DataError, match=r"a.txt: SHA-256 differs from .*polnear_manifest.json"):
        read_polnear_labels(labels / "polnear_train.jsonl", str(copy))


def test_no_copy_names_fetch_and_offline_config(tmp_path):
    _, labels = _layout(tmp_path)
    with pytest.raises(DataError) as info:
        read_polnear_labels(labels / "polnear_train.jsonl")
    assert "newsstance data fetch polnear" in str(info.value)
    assert "configs/offline.yaml" in str(info.value)


def _serve(root):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_fetch_downloads_over_http_and_verifies(tmp_path):
    copy, labels = _layout(tmp_path)
    server = _serve(copy)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        target = fetch(tmp_path / "dl", labels, base_url=url)
        assert (target / "train" / "text" / "a.txt").read_text() == ARTICLE
        frame = read_polnear_labels(labels / "polnear_train.jsonl", str(target))
        assert len(frame) == 2
        # a changed upstream file is refused and nothing is written for it
        (copy / "train" / "text" / "a.txt").write_text("changed")
        with pytest.raises(DataError, match="SHA-256 differs"):
            fetch(tmp_path / "dl2", labels, base_url=url)
        assert not (tmp_path / "dl2" / "train" / "text" / "a.txt").exists()
    finally:
        server.shutdown()


def test_fetch_prefers_a_local_copy(tmp_path, monkeypatch):
    copy, labels = _layout(tmp_path)
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    assert fetch(None, labels) == copy
    out = fetch(tmp_path / "mine", labels)
    assert (out / "train" / "text" / "a.txt").read_text() == ARTICLE


def test_shipped_labels_hold_no_text_and_no_test_split():
    from conftest import ROOT

    for path in (ROOT / "data" / "external").glob("polnear_*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            assert set(row) <= {"file", "start", "end", "label", "sentence_index", "prev_start", "prev_end", "confidence",
                                "origin", "set", "first", "second", "final", "split", "selected_by",
                                "prob_official_position", "prob_third_party_skepticism", "prob_neutral_reporting"}
            assert not any(isinstance(v, str) and len(v) > 40 and " " in v for v in row.values())  # no text
            assert not row["file"].startswith("test/")


def _with_test_split(labels):
    """The manifest of `_layout` plus one file of PolNeAR's test split."""
    manifest = json.loads((labels / "polnear_manifest.json").read_text())
    manifest["files"]["test/text/held_out.txt"] = hashlib.sha256(b"held out").hexdigest()
    (labels / "polnear_manifest.json").write_text(json.dumps(manifest))


def test_fetch_refuses_a_manifest_that_lists_the_test_split(tmp_path, monkeypatch, capsys):
    from newsstance.cli import main

    copy, labels = _layout(tmp_path)
    (copy / "test" / "text").mkdir(parents=True)
    (copy / "test" / "text" / "held_out.txt").write_text("held out")
    _with_test_split(labels)
    # with a local copy to copy from, and with a server to download from: refused before any file is written
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    assert main(["data", "fetch", "polnear", "--labels", str(labels), "--to", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert "test/text/held_out.txt" in err and "PolNeAR's test split" in err and "polnear_manifest.json" in err
    assert not (tmp_path / "mine").exists()
    monkeypatch.delenv("NEWSSTANCE_POLNEAR")
    server = _serve(copy)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DataError, match=r"lists 1 file\(s\) of PolNeAR's test split, e\.g\. test/text/held_out\.txt"):
            fetch(tmp_path / "dl", labels, base_url=url)
    finally:
        server.shutdown()
    assert not (tmp_path / "dl").exists()


def test_label_rows_from_the_test_split_are_refused(tmp_path, monkeypatch):
    copy, labels = _layout(tmp_path)
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    rows = (labels / "polnear_train.jsonl").read_text().splitlines()
    bad = json.loads(rows[1]) | {"file": "test/text/a.txt"}
    (labels / "polnear_train.jsonl").write_text(rows[0] + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"polnear_train.jsonl:2: test/text/a.txt is in PolNeAR's test split"):
        read_polnear_labels(labels / "polnear_train.jsonl")


def test_split_field_selects_rows_and_is_validated(tmp_path, monkeypatch):
    from newsstance.data.validate import validate_polnear_labels

    copy, labels = _layout(tmp_path)
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    path = labels / "polnear_train.jsonl"
    with pytest.raises(DataError, match=r"polnear_train.jsonl:1: the config selects split 'validation' but the row has no 'split'"):
        read_polnear_labels(path, split="validation")
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, "split": "validation"}) + "\n" for r in rows))
    assert len(read_polnear_labels(path, split="validation")) == 2
    with pytest.raises(DataError, match=r"no rows with split == 'train'"):
        read_polnear_labels(path, split="train")
    # one article, two splits: the validator refuses it (sentences of one article never straddle splits)
    path.write_text(json.dumps({**rows[0], "split": "train"}) + "\n" + json.dumps({**rows[1], "split": "validation"}) + "\n")
    problems = validate_polnear_labels(path).problems
    assert any("has rows in split 'train' and 'validation'" in p for p in problems)


def test_the_holdout_split_depends_on_the_file_name_alone():
    from newsstance.data.polnear import HOLDOUT_FRACTION, holdout_split

    names = [f"train/text/article-{i}.txt" for i in range(2000)]
    held = [n for n in names if holdout_split(n) == "validation"]
    assert abs(len(held) / len(names) - HOLDOUT_FRACTION) < 0.03
    assert held == [n for n in names if holdout_split(n) == "validation"]  # stable
