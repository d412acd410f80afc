import json

import pandas as pd
import pytest

from newsstance.config import ColumnsConfig, ContextConfig, DataConfig, Source
from newsstance.data.context import add_neighbours, context_text, contexts
from newsstance.data.splits import load_splits, split_by_article
from newsstance.data.tables import read_source
from newsstance.errors import DataError

from conftest import MINI


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reads_jsonl_csv_parquet_with_column_mapping(tmp_path):
    frame = pd.read_json(MINI, lines=True).rename(columns={"text": "sentence", "doc_id": "article"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    columns = ColumnsConfig(text="sentence", doc_id="article")
    for name in ("t.csv", "t.parquet"):
        out = read_source(Source(path=str(tmp_path / name)), columns)
        assert list(out.columns[:4]) == ["text", "label", "doc_id", "sentence_index"]
        assert len(out) == 31 and out["sentence_index"].dtype.kind == "i"


def test_unknown_label_names_file_and_line(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [
        {"doc_id": "a", "sentence_index": 0, "text": "Fine.", "label": "neutral_reporting"},
        {"doc_id": "a", "sentence_index": 1, "text": "Odd.", "label": "skeptical"},
    ])
    with pytest.raises(DataError) as info:
        read_source(Source(path=str(path)), ColumnsConfig())
    assert str(info.value) == (f"{path}:2: unknown label 'skeptical'; expected one of "
                               "official_position, third_party_skepticism, neutral_reporting")


def test_csv_line_numbers_count_the_header_and_empty_text_is_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("doc_id,sentence_index,text,label\na,0,Fine.,neutral_reporting\na,1,,neutral_reporting\n")
    with pytest.raises(DataError, match=rf"{path}:3: empty text"):
        read_source(Source(path=str(path)), ColumnsConfig())


def test_missing_column_and_missing_file(tmp_path):
    path = _jsonl(tmp_path / "t.jsonl", [{"doc_id": "a", "text": "x", "label": "neutral_reporting"}])
    with pytest.raises(DataError, match=r"missing column\(s\) 'sentence_index' \(for sentence_index\).*data.columns"):
        read_source(Source(path=str(path)), ColumnsConfig())
    with pytest.raises(DataError, match="data file not found"):
        read_source(Source(path=str(tmp_path / "nope.jsonl")), ColumnsConfig())


def test_split_filter_and_empty_split(tmp_path):
    rows = [json.loads(l) | {"split": "train" if json.loads(l)["doc_id"] != "m6" else "test"} for l in MINI.open()]
    path = _jsonl(tmp_path / "s.jsonl", rows)
    assert set(read_source(Source(path=str(path), split="test"), ColumnsConfig())["doc_id"]) == {"m6"}
    with pytest.raises(DataError, match="no rows with split == 'validaton'"):
        read_source(Source(path=str(path), split="validaton"), ColumnsConfig())


def test_split_by_article_never_cuts_an_article():
    frame = read_source(Source(path=str(MINI)), ColumnsConfig())
    splits = load_splits(DataConfig(train=[str(MINI)], split={"validation_fraction": 0.2, "test_fraction": 0.2, "seed": 3}))
    docs = [set(splits[s]["doc_id"]) for s in ("train", "validation", "test")]
    assert all(d for d in docs)
    assert not (docs[0] & docs[1] or docs[0] & docs[2] or docs[1] & docs[2])
    assert sum(len(splits[s]) for s in ("train", "validation", "test")) == len(frame)
    again = load_splits(DataConfig(train=[str(MINI)], split={"validation_fraction": 0.2, "test_fraction": 0.2, "seed": 3}))
    assert set(again["test"]["doc_id"]) == docs[2]  # fixed seed, same split
    with pytest.raises(DataError, match="single article"):
        split_by_article(frame[frame["doc_id"] == "m1"], 0.2, 1)


def test_previous_sentence_comes_from_the_same_article_only():
    frame = add_neighbours(read_source(Source(path=str(MINI)), ColumnsConfig()))
    row = frame[(frame["doc_id"] == "m2") & (frame["sentence_index"] == 0)].iloc[0]
    assert row["previous"] == "" and row["headline"] == ""
    row = frame[(frame["doc_id"] == "m1") & (frame["sentence_index"] == 5)].iloc[0]
    assert row["previous"].startswith("Fishing cooperatives dismissed")
    assert row["headline"] == "Harbour Authority Says Dredging Will Resume in March"
    both = contexts(frame.iloc[[5]], ContextConfig(previous_sentence=True, headline=True))[0]
    assert both == "Harbour Authority Says Dredging Will Resume in March | " + row["previous"]
    assert contexts(frame.iloc[[5]], ContextConfig())[0] is None
    assert context_text(ContextConfig(previous_sentence=True), previous="") == ""


def test_jsonl_line_numbers_count_blank_lines_and_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_text('{"doc_id": "a", "sentence_index": 0, "text": "Fine.", "label": "neutral_reporting"}\n\n\n'
                    '{"doc_id": "a", "sentence_index": 1, "text": "Odd.", "label": "neutral"}\n')
    with pytest.raises(DataError, match=rf"{path}:4: unknown label 'neutral'"):
        read_source(Source(path=str(path)), ColumnsConfig())
    from newsstance.data.tables import read_sources

    copy = tmp_path / "copy.jsonl"
    copy.write_text(MINI.read_text())
    with pytest.raises(DataError, match=r"article 'm1' sentence 0 appears more than once .*rename the doc_ids"):
        read_sources([Source(path=str(MINI)), Source(path=str(copy))], ColumnsConfig())
