"""The annotation loop: `annotate select` (strategies, formats) and `annotate import` (round
trips through a filled CSV and a simulated Label Studio export, every bad input)."""

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from newsstance.annotation.importer import import_annotations
from newsstance.annotation.select import SelectOptions, choose, select_tasks, uncertainty
from newsstance.annotation.tasks import COLUMNS, label_config_path
from newsstance.cli import main
from newsstance.config import ColumnsConfig, Source
from newsstance.data.tables import read_source
from newsstance.errors import DataError
from newsstance.labels import LABELS

BOILERPLATE = "Reporting by the Valdora newsroom."  # the same sentence closes two articles
ARTICLES = {
    "port.txt": (
        "Harbour Authority Says Dredging Will Resume in March\n\n"
        "VALDORA \u2014 The port authority said on Monday that dredging would resume in March. "
        "\u201cWe have the permits and the money,\u201d the director said. "
        "Fishing cooperatives dismissed the timetable as wishful thinking. "
        "The channel silts up by about 40 centimetres a year. "
        "Environmental groups said they would challenge the permit in court. "
        "The port handled 4.1 million containers last year. "
        "Critics doubted that the money would arrive on time. "
        "The authority insisted the work would start on schedule. "
        "Ships have been turned away since autumn.\n\n" + BOILERPLATE + "\n"
    ),
    "rail.txt": (
        "Rail Strike Enters Third Day\n\n"
        "Train drivers stayed off work for a third day on Wednesday. "
        "The union said its members would not return without a pay offer. "
        "The transport ministry called the strike unlawful and irresponsible. "
        "Commuter groups said the dispute had already cost workers thousands of hours. "
        "Talks are scheduled to resume on Friday.\n\n" + BOILERPLATE + "\n"
    ),
}
JSONL_ARTICLES = [
    {"id": "court-1", "title": "Court Upholds Ban", "text": "The court upheld the ban on Tuesday. The airline said it would appeal. Analysts doubted an appeal would succeed."},
    {"id": "bank-1", "title": "Rates Held", "text": "The central bank held its key rate at 4 percent. The governor said inflation was falling."},
]


@pytest.fixture
def articles(tmp_path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "wire.jsonl").write_text("".join(json.dumps(a) + "\n" for a in JSONL_ARTICLES), encoding="utf-8")
    return folder


def _select(articles, tiny_model, output, **kw) -> list[dict]:
    kw.setdefault("n", 6)
    result = select_tasks(SelectOptions(paths=[articles], output=Path(output), model=tiny_model, **kw))
    assert result.written[0] == Path(output)
    return _read_tasks(output)


def _read_tasks(path) -> list[dict]:
    path = Path(path)
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        return list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    return json.loads(path.read_text(encoding="utf-8"))


def _annotator(text: str) -> str:
    """A simulated annotator with a rule of thumb."""
    if any(w in text for w in ("dismissed", "doubted", "unlawful", "challenge")):
        return "third_party_skepticism"
    return "official_position" if " said" in text or "insisted" in text else "neutral_reporting"


def _export(tasks: list[dict], labels_per_task: list[list]) -> list[dict]:
    """What Label Studio exports after annotation: one entry per task with its annotations."""
    out = []
    for number, (task, labels) in enumerate(zip(tasks, labels_per_task), start=100):
        annotations = [
            {"id": number * 10 + k, "completed_by": k + 1, "was_cancelled": label is None, "ground_truth": False,
             "result": [] if label is None else
             [{"id": "r1", "from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]}
            for k, label in enumerate(labels)
        ]
        out.append({"id": number, "data": task["data"], "annotations": annotations, "predictions": [], "meta": {}})
    return out


# --- selection strategies on known probabilities ---------------------------------------------


def _probs(margins):
    """Rows whose top-two margin is exactly the given value."""
    rows = [[0.5 + m / 2, 0.5 - m / 2, 0.0] for m in margins]
    return np.array(rows)


def test_uncertainty_picks_the_smallest_margins_and_the_largest_entropies():
    margins = [0.9, 0.05, 0.5, 0.01, 0.3, 0.7]
    probs = _probs(margins)
    picked = choose([f"a{i}" for i in range(6)], [f"s{i}" for i in range(6)], probs, 3)
    assert [i for i, _ in picked] == [3, 1, 4] and {r for _, r in picked} == {"uncertainty"}
    assert np.allclose(uncertainty(probs, "margin"), margins)
    flat = np.array([[1 / 3] * 3, [0.98, 0.01, 0.01], [0.5, 0.5, 0.0]])
    assert [i for i, _ in choose(["a", "b", "c"], ["x", "y", "z"], flat, 2, measure="entropy")] == [0, 2]


def test_per_article_cap_is_honoured():
    probs = _probs([0.01, 0.02, 0.03, 0.04, 0.5, 0.6])
    articles = ["a", "a", "a", "a", "b", "b"]
    picked = choose(articles, [f"s{i}" for i in range(6)], probs, 4, per_article_max=2)
    assert [i for i, _ in picked] == [0, 1, 4, 5]


def test_duplicate_texts_are_picked_once_the_most_uncertain_copy():
    probs = _probs([0.5, 0.01, 0.02, 0.4])
    texts = ["Reporting by X.", "Reporting by  X.", "Unique one.", "Unique two."]
    picked = [i for i, _ in choose(["a", "b", "c", "d"], texts, probs, 4)]
    assert picked == [1, 2, 3]  # row 0 repeats row 1 (whitespace aside): left out


def test_random_is_seeded_and_reproducible():
    probs = _probs(np.linspace(0, 1, 50))
    args = ([f"a{i}" for i in range(50)], [f"s{i}" for i in range(50)], probs, 10)
    first = choose(*args, strategy="random", seed=1)
    assert first == choose(*args, strategy="random", seed=1)
    assert first != choose(*args, strategy="random", seed=2)
    assert {r for _, r in first} == {"random"}
    assert [i for i, _ in first] != list(range(10))


def test_mixed_has_both_halves_without_overlap():
    probs = _probs(np.linspace(0, 1, 40))
    picked = choose([f"a{i}" for i in range(40)], [f"s{i}" for i in range(40)], probs, 9, strategy="mixed", seed=4)
    reasons = [r for _, r in picked]
    assert reasons.count("uncertainty") == 5 and reasons.count("random") == 4
    assert len({i for i, _ in picked}) == 9
    assert [i for i, r in picked if r == "uncertainty"] == [0, 1, 2, 3, 4]


# --- select on real articles with the tiny model -------------------------------------------


def test_select_ranks_real_sentences_by_calibrated_margin(articles, tiny_model, tmp_path):
    everything = _select(articles, tiny_model, tmp_path / "all.jsonl", n=1000, per_article_max=1000)
    texts = [t["text"] for t in everything]
    assert len(texts) == len(set(texts)) and texts.count(BOILERPLATE) == 1  # duplicates removed
    top = _select(articles, tiny_model, tmp_path / "top.jsonl", n=4, per_article_max=1000)
    smallest = sorted(t["selection_score"] for t in everything)[:4]
    assert [t["selection_score"] for t in top] == pytest.approx(smallest)
    for t in top:
        probs = sorted(t[f"p_{l}"] for l in LABELS)
        assert t["selection_score"] == pytest.approx(probs[-1] - probs[-2], abs=1e-4)
        assert t["predicted"] == max(LABELS, key=lambda l: t[f"p_{l}"]) and t["label"] == ""
    capped = _select(articles, tiny_model, tmp_path / "capped.jsonl", n=20, per_article_max=2)
    per_article = pd.Series([(t["path"], t["position"]) for t in capped]).value_counts()
    assert per_article.max() == 2 and len(capped) == 2 * len(per_article) == 8  # 4 articles, 2 each


def test_select_rows_carry_context_offsets_and_reasons(articles, tiny_model, tmp_path):
    tasks = _select(articles, tiny_model, tmp_path / "t.jsonl", n=8, strategy="mixed", seed=3)
    assert {t["reason"] for t in tasks} == {"uncertainty", "random"}
    assert [t["task_id"] for t in tasks] == list(range(1, 9)) and list(tasks[0]) == list(COLUMNS)
    for t in tasks:
        path = Path(t["path"])
        if path.suffix == ".txt":
            text = path.read_text(encoding="utf-8")
            assert text[t["start"]:t["end"]] == t["text"]
            assert t["headline"] == ("" if t["sentence_index"] == 0 else text.split("\n")[0])
        else:
            art = JSONL_ARTICLES[t["position"] - 1]
            assert f"{art['title']}\n\n{art['text']}"[t["start"]:t["end"]] == t["text"]
            assert t["article_id"] == art["id"]
    again = _select(articles, tiny_model, tmp_path / "t2.jsonl", n=8, strategy="mixed", seed=3)
    assert again == tasks


def test_exclude_skips_sentences_already_labelled(articles, tiny_model, tmp_path):
    first = _select(articles, tiny_model, tmp_path / "round1.jsonl", n=5)
    second = _select(articles, tiny_model, tmp_path / "round2.csv", n=5, exclude=[tmp_path / "round1.jsonl"])
    assert not {t["text"] for t in first} & {t["text"] for t in second}
    table = tmp_path / "labels.csv"
    pd.DataFrame([{"doc_id": "x", "sentence_index": 0, "text": t["text"], "label": "neutral_reporting"} for t in second]).to_csv(table, index=False)
    third = _select(articles, tiny_model, tmp_path / "round3.json", n=5, exclude=[tmp_path / "round1.jsonl", table])
    assert not {t["text"] for t in first + second} & {t["text"] for t in third}


@pytest.mark.parametrize("name", ["tasks.jsonl", "tasks.csv", "tasks.json"])
def test_flat_formats_hold_the_same_tasks(articles, tiny_model, tmp_path, name):
    tasks = _select(articles, tiny_model, tmp_path / name, n=5)
    assert len(tasks) == 5 and list(tasks[0]) == list(COLUMNS)
    assert all(t["label"] == "" for t in tasks)
    reference = _select(articles, tiny_model, tmp_path / "ref.jsonl", n=5)
    assert [t["text"] for t in tasks] == [t["text"] for t in reference]
    assert [int(t["start"]) for t in tasks] == [t["start"] for t in reference]


def test_labelstudio_format_tasks_predictions_and_config(articles, tiny_model, tmp_path, capsys):
    out = tmp_path / "ls.json"
    code = main(["annotate", "select", "--model", str(tiny_model), str(articles), "-n", "5", "--format", "labelstudio", "-o", str(out)])
    assert code == 0
    config = label_config_path(out)
    assert str(config) in capsys.readouterr().out
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 5
    for task in tasks:
        assert set(task) == {"data", "predictions"} and "label" not in task["data"]
        (prediction,) = task["predictions"]
        (result,) = prediction["result"]
        assert result == {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [task["data"]["predicted"]]}}
        assert prediction["score"] == task["data"]["predicted_score"] and tiny_model.name in prediction["model_version"]
    view = ET.fromstring(config.read_text(encoding="utf-8"))
    choices = view.find("Choices")
    assert choices.get("name") == "label" and choices.get("toName") == "text" and choices.get("choice") == "single"
    assert [c.get("value") for c in choices.findall("Choice")] == list(LABELS)
    assert any(t.get("name") == "text" and t.get("value") == "$text" for t in view.findall("Text"))


# --- round trips -----------------------------------------------------------------------------


def test_round_trip_filled_csv_to_a_table_that_trains(articles, tiny_model, tmp_path, capsys):
    from newsstance.config import validate_config
    from newsstance.training.run import train
    from conftest import MINI, tiny_config_dict

    tasks_csv = tmp_path / "tasks.csv"
    assert main(["annotate", "select", "--model", str(tiny_model), str(articles), "-n", "12", "--strategy", "mixed", "-o", str(tasks_csv)]) == 0
    frame = pd.read_csv(tasks_csv, dtype=str, keep_default_na=False)
    frame["label"] = [_annotator(t) for t in frame["text"]]  # the annotator fills the column
    frame.to_csv(tasks_csv, index=False)
    table = tmp_path / "mine.jsonl"
    assert main(["annotate", "import", str(tasks_csv), "-o", str(table)]) == 0
    assert "offsets checked against the article text: 12" in capsys.readouterr().out
    loaded = read_source(Source(path=str(table)), ColumnsConfig())
    assert len(loaded) == 12 and set(loaded["label"]) <= set(LABELS)
    assert {"doc_id", "sentence_index", "start", "end", "text", "label", "previous", "headline", "file"} <= set(loaded.columns)
    by_text = dict(zip(frame["text"], frame["label"]))
    assert all(by_text[t] == l for t, l in zip(loaded["text"], loaded["label"]))
    wire = loaded[loaded["file"].str.contains("wire.jsonl#")]
    assert set(wire["doc_id"]) <= {"court-1", "bank-1"}
    for parquet in ("mine.parquet", "mine.csv"):
        assert main(["annotate", "import", str(tasks_csv), "-o", str(tmp_path / parquet)]) == 0
        again = read_source(Source(path=str(tmp_path / parquet)), ColumnsConfig())
        assert list(again["text"]) == list(loaded["text"])
    cfg = tiny_config_dict(tmp_path / "run", epochs=1.0)
    cfg["data"]["train"] = [str(MINI), str(table)]
    run = train(validate_config(cfg))
    assert (run / "metrics.json").exists()


def test_round_trip_labelstudio_export(articles, tiny_model, tmp_path):
    _select(articles, tiny_model, tmp_path / "ls.json", n=6, format="labelstudio")
    tasks = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    labels = [[_annotator(t["data"]["text"])] for t in tasks]
    labels[0] = [None, labels[0][0]]  # the first annotator skipped it; the second labelled it
    labels[1] = labels[1] * 2  # two annotators who agree
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_export(tasks, labels)), encoding="utf-8")
    result = import_annotations(export, tmp_path / "table.csv", articles=[articles])
    assert result.rows == 6 and result.checked == 6 and result.source == "labelstudio"
    table = read_source(Source(path=str(tmp_path / "table.csv")), ColumnsConfig())
    assert sorted(table["label"]) == sorted(l[-1] for l in labels)
    assert set(table["text"]) == {t["data"]["text"] for t in tasks}


# --- bad input: select -------------------------------------------------------------------------


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(map(str, argv)))
    return code, capsys.readouterr().err


def test_select_on_an_empty_folder(tiny_model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, tmp_path / "empty", "-n", 5, "-o", tmp_path / "t.jsonl")
    assert code != 0 and "empty" in err and str(tmp_path / "empty") in err
    assert not (tmp_path / "t.jsonl").exists()


def test_select_with_a_folder_that_is_not_a_model(articles, tmp_path, capsys):
    fake = tmp_path / "fake_model"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"id2label": {"0": "NEG", "1": "POS"}}))
    code, err = _cli(capsys, "annotate", "select", "--model", fake, articles, "-n", 5, "-o", tmp_path / "t.jsonl")
    assert code != 0 and str(fake) in err and "newsstance" in err
    code, err = _cli(capsys, "annotate", "select", "--model", tmp_path / "nowhere", articles, "-n", 5, "-o", tmp_path / "t.jsonl")
    assert code != 0 and "no such model folder" in err


@pytest.mark.parametrize("n", ["0", "-3"])
def test_select_refuses_a_non_positive_n(articles, tiny_model, tmp_path, capsys, n):
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", n, "-o", tmp_path / "t.jsonl")
    assert code != 0 and "-n must be a positive number" in err and n in err


def test_select_keeps_an_existing_output_without_overwrite(articles, tiny_model, tmp_path, capsys):
    out = tmp_path / "ls.json"
    out.write_text("my precious tasks")
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", 3, "--format", "labelstudio", "-o", out)
    assert code != 0 and str(out) in err and "--overwrite" in err and out.read_text() == "my precious tasks"
    out.unlink()
    label_config_path(out).write_text("<View/>")  # the config beside it counts too
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", 3, "--format", "labelstudio", "-o", out)
    assert code != 0 and str(label_config_path(out)) in err and not out.exists()
    code, _ = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", 3, "--format", "labelstudio", "-o", out, "--overwrite")
    assert code == 0 and len(json.loads(out.read_text())) == 3 and "<Choices" in label_config_path(out).read_text()


def test_select_format_must_fit_the_extension(articles, tiny_model, tmp_path, capsys):
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", 3, "--format", "labelstudio", "-o", tmp_path / "t.csv")
    assert code != 0 and "t.json" in err
    code, err = _cli(capsys, "annotate", "select", "--model", tiny_model, articles, "-n", 3, "-o", tmp_path / "t.xlsx")
    assert code != 0 and ".xlsx" in err


# --- bad input: import -------------------------------------------------------------------------


@pytest.fixture
def filled(articles, tiny_model, tmp_path) -> Path:
    """A select output with every label filled in by the simulated annotator."""
    path = tmp_path / "filled.jsonl"
    tasks = _select(articles, tiny_model, path, n=6)
    path.write_text("".join(json.dumps({**t, "label": _annotator(t["text"])}) + "\n" for t in tasks), encoding="utf-8")
    return path


def _rewrite(path: Path, edit) -> list[dict]:
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]
    edit(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def _import_error(capsys, export, out, *extra) -> str:
    code, err = _cli(capsys, "annotate", "import", export, "-o", out, *extra)
    assert code != 0 and not Path(out).exists()
    return err


def test_import_reports_unknown_and_missing_labels_with_their_rows(filled, tmp_path, capsys):
    def edit(rows):
        rows[1]["label"] = "skepticism"
        rows[3]["label"] = "Official Position"
        rows[4]["label"] = ""
    _rewrite(filled, edit)
    err = _import_error(capsys, filled, tmp_path / "t.jsonl")
    assert f"{filled}:2 (task 2): unknown label 'skepticism' (did you mean 'third_party_skepticism'?)" in err
    assert f"{filled}:4 (task 4): unknown label 'Official Position' (did you mean 'official_position'?)" in err
    assert f"{filled}:5 (task 5): no label" in err and "3 problem(s)" in err
    code, _ = _cli(capsys, "annotate", "import", filled, "-o", tmp_path / "t.jsonl", "--skip-unlabelled")
    assert code != 0  # the unknown labels still stop it


def test_import_skip_unlabelled_leaves_blank_rows_out(filled, tmp_path, capsys):
    _rewrite(filled, lambda rows: rows[0].update(label=""))
    code, _ = _cli(capsys, "annotate", "import", filled, "-o", tmp_path / "t.jsonl", "--skip-unlabelled")
    assert code == 0 and len((tmp_path / "t.jsonl").read_text().splitlines()) == 5


def test_import_reports_conflicting_annotators(articles, tiny_model, tmp_path, capsys):
    _select(articles, tiny_model, tmp_path / "ls.json", n=3, format="labelstudio")
    tasks = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_export(tasks, [["neutral_reporting", "official_position"], ["neutral_reporting"], []])))
    err = _import_error(capsys, export, tmp_path / "t.jsonl")
    assert f"{export}: task 100 (task_id 1): the annotators disagree (annotator 1 chose 'neutral_reporting', annotator 2 chose 'official_position')" in err
    assert f"{export}: task 102 (task_id 3): no label" in err


def test_import_reports_duplicated_tasks(filled, tmp_path, capsys):
    rows = _rewrite(filled, lambda rows: rows.append(dict(rows[2], task_id=99)))
    err = _import_error(capsys, filled, tmp_path / "t.jsonl")
    assert f"{filled}:7 (task 99): the same sentence as {filled}:3 (task 3)" in err and rows[2]["article_id"] in err


def test_import_reports_text_that_no_longer_matches_the_article(filled, articles, tmp_path, capsys):
    rows = [json.loads(l) for l in filled.read_text(encoding="utf-8").splitlines()]
    victim = next(r for r in rows if r["path"].endswith("port.txt"))
    port = articles / "port.txt"
    port.write_text(port.read_text(encoding="utf-8").replace(victim["text"], "X" * len(victim["text"])), encoding="utf-8")
    err = _import_error(capsys, filled, tmp_path / "t.jsonl")
    assert f"(task {victim['task_id']}): the text no longer matches the article {port}#1" in err
    assert repr(victim["text"]) in err and repr("X" * len(victim["text"])) in err
    moved = tmp_path / "moved"
    moved.mkdir()
    port.rename(moved / "port.txt")  # the tasks' path is gone: --articles still finds the article by its id
    err = _import_error(capsys, filled, tmp_path / "t.jsonl", "--articles", moved, articles)
    assert f"(task {victim['task_id']}): the text no longer matches the article {moved / 'port.txt'}#1" in err


def test_import_without_articles_checks_the_text_length(filled, tmp_path, capsys):
    def edit(rows):
        for r in rows:
            r["path"] = "/nowhere/gone.txt"
        rows[0]["text"] = rows[0]["text"] + " (edited)"
    _rewrite(filled, edit)
    err = _import_error(capsys, filled, tmp_path / "t.jsonl")
    assert f"{filled}:1 (task 1): offsets" in err and "the text has" in err


@pytest.mark.parametrize("content, found", [
    ({"predictions": []}, "a JSON dict"),
    ([{"article_id": "a", "label": "official_position"}], "the first item has keys"),
    ([], "an empty list"),
    ("not json at all {", "not valid JSON"),
])
def test_import_refuses_a_file_that_is_not_an_export(tmp_path, capsys, content, found):
    export = tmp_path / "export.json"
    export.write_text(content if isinstance(content, str) else json.dumps(content))
    err = _import_error(capsys, export, tmp_path / "t.jsonl")
    assert f"{export}: neither a Label Studio export nor tasks written by `newsstance annotate select`" in err and found in err


def test_import_refuses_predictions_and_unlabelled_labelstudio_tasks(articles, tiny_model, tmp_path, capsys):
    predictions = tmp_path / "pred.csv"
    pd.DataFrame([{"article_id": "a", "label": "neutral_reporting", "score": 0.9}]).to_csv(predictions, index=False)
    err = _import_error(capsys, predictions, tmp_path / "t.jsonl")
    assert "neither a Label Studio export" in err and "no 'text' column" in err
    _select(articles, tiny_model, tmp_path / "ls.json", n=2, format="labelstudio")
    err = _import_error(capsys, tmp_path / "ls.json", tmp_path / "t.jsonl")
    assert "without any annotations" in err and "export the project from Label Studio" in err


def test_import_keeps_an_existing_table_without_overwrite(filled, tmp_path, capsys):
    out = tmp_path / "t.jsonl"
    out.write_text("precious\n")
    code, err = _cli(capsys, "annotate", "import", filled, "-o", out)
    assert code != 0 and str(out) in err and "--overwrite" in err and out.read_text() == "precious\n"
    assert _cli(capsys, "annotate", "import", filled, "-o", out, "--overwrite")[0] == 0
    assert len(out.read_text().splitlines()) == 6
    with pytest.raises(DataError, match="overwrite the export"):
        import_annotations(filled, filled, overwrite=True)


def test_import_of_moved_articles_is_unchecked_unless_articles_are_given(filled, articles, tmp_path, capsys):
    articles.rename(tmp_path / "moved")
    result = import_annotations(filled, tmp_path / "t.jsonl")
    assert result.rows == 6 and result.unchecked == 6 and result.checked == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "unrelated.txt").write_text("Unrelated\n\nSomething else happened.\n")
    err = _import_error(capsys, filled, tmp_path / "t2.jsonl", "--articles", other)
    assert "is not among --articles; add the folder that holds it" in err and "6 problem(s)" in err
    assert import_annotations(filled, tmp_path / "t3.jsonl", articles=[tmp_path / "moved"]).checked == 6


def test_import_reports_an_annotation_with_several_labels(articles, tiny_model, tmp_path, capsys):
    _select(articles, tiny_model, tmp_path / "ls.json", n=1, format="labelstudio")
    (task,) = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    two = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["official_position", "neutral_reporting"]}}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 7, "data": task["data"], "annotations": [{"id": 1, "completed_by": 3, "result": [two]}]}]))
    err = _import_error(capsys, export, tmp_path / "t.jsonl")
    assert f"{export}: task 7 (task_id 1): annotation 1 (annotator 3) chose several labels" in err
