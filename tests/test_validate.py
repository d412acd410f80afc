import json

from newsstance.cli import main
from newsstance.data.validate import validate_corpus, validate_data

from conftest import ROOT


def test_shipped_data_is_valid():
    report = validate_data(ROOT / "data")
    assert report.problems == []
    assert {"train", "validation", "test", "challenge"} <= set(report.counts)


def _small_corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = (ROOT / "data" / "corpus" / "articles.jsonl").read_text().splitlines()
    arts = [json.loads(l) for l in lines]
    keep = {}
    for a in arts:
        keep.setdefault(a["split"], a)
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in keep.values()))
    ids = {a["id"] for a in keep.values()}
    rows = [json.loads(l) for l in (ROOT / "data" / "corpus" / "sentences.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["doc_id"] in ids]
    return folder, list(keep.values()), rows


def _write_rows(folder, rows):
    (folder / "sentences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_bad_offsets_labels_and_leakage_are_named(tmp_path):
    folder, arts, rows = _small_corpus(tmp_path)
    _write_rows(folder, rows)
    assert validate_corpus(folder).problems == []
    rows[1]["start"] += 1
    rows[2]["label"] = "neutral"
    test_doc = next(a["id"] for a in arts if a["split"] == "test")
    train_doc = next(a["id"] for a in arts if a["split"] == "train")
    leak = next(r for r in rows if r["doc_id"] == train_doc and r["sentence_index"] == 3)
    victim = next(i for i, r in enumerate(rows) if r["doc_id"] == test_doc and r["sentence_index"] == 3)
    rows[victim] = rows[victim] | {"text": leak["text"] + " "}
    _write_rows(folder, rows)
    problems = validate_corpus(folder).problems
    assert any(p.startswith(f"{folder / 'sentences.jsonl'}:2: text differs from article") for p in problems)
    assert f"{folder / 'sentences.jsonl'}:3: unknown label 'neutral'; expected one of official_position, third_party_skepticism, neutral_reporting" in problems
    assert any("near-duplicates" in p and f"{test_doc}#3" in p for p in problems)


def test_cli_validate_exit_codes(tmp_path, capsys):
    assert main(["data", "validate", str(ROOT / "data")]) == 0
    assert "ok" in capsys.readouterr().out
    folder, _, rows = _small_corpus(tmp_path)
    rows[0]["label"] = "bogus"
    _write_rows(folder, rows)
    assert main(["data", "validate", str(tmp_path)]) == 1
    assert "unknown label 'bogus'" in capsys.readouterr().err
