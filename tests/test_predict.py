"""Batch prediction on article folders: readers, outputs, resume, errors, HTML, backends."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import interrupt_predict_after
from newsstance.cli import main
from newsstance.errors import NewsstanceError, OutputExistsError
from newsstance.prediction.batch import PredictOptions, run_predict
from newsstance.prediction.readers import Fields, read_file

ARTICLE = ("Harbour Plan Faces Doubts\n\nVALDORA \u2014 The port authority said on Monday it would dredge the channel. "
           "Critics dismissed the plan as wishful thinking.\n\n\u201cThey promise this every spring,\u201d one captain said. "
           "\u201cNothing happens.\u201d\n\nThe port handled 4.1 million containers last year.\n")


@pytest.fixture
def articles(tmp_path) -> Path:
    folder = tmp_path / "articles"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "nested" / "b.txt").write_bytes("\ufeffRail Strike Ends\r\n\r\nThe union said members would return on Friday.\r\n".encode("utf-8"))
    (folder / "c.jsonl").write_text(
        json.dumps({"id": "j1", "title": "Court Upholds Ban", "text": "The court upheld the ban. The airline said it would appeal."}) + "\n"
        + json.dumps({"id": "j2", "headline": "no text field"}) + "\n", encoding="utf-8")
    (folder / "d.md").write_text("# Mayor Vows Wall\n\nThe mayor said a wall would be built. Engineers doubted it.\n", encoding="utf-8")
    (folder / "e.html").write_text(
        "<html><head><title>Rates Held</title></head><body><nav>Home | Markets | Sport</nav><article><h1>Rates Held</h1>"
        "<p>The central bank held its key rate at 4 percent on Thursday, the sixth pause in a row. Governor Lena Ortiz "
        "said inflation was falling faster than expected and that the bank would stay patient.</p><p>Several economists "
        "doubted that claim, pointing to rising rents in the capital and a weaker currency since the spring.</p></article>"
        "<footer>Copyright 2026</footer></body></html>", encoding="utf-8")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    return folder


def _options(articles, tmp_path, model, **kw):
    return PredictOptions(paths=[str(articles)], output=str(tmp_path / "out" / "pred.jsonl"), model=str(model), **kw)


def _rows(path):
    return [json.loads(l) for l in Path(path).read_text(encoding="utf-8").splitlines()]


def test_folder_to_predictions_summary_and_errors(articles, tmp_path, tiny_model):
    (tmp_path / "out").mkdir()
    stats = run_predict(_options(articles, tmp_path, tiny_model, summary=str(tmp_path / "out" / "summary.csv")), progress=False)
    assert stats.articles == 5 and stats.errors == 3 and stats.skipped_unsupported == 1
    rows = _rows(tmp_path / "out" / "pred.jsonl")
    texts = {"a": ARTICLE}
    for r in rows:
        if r["article_id"] == "a":
            assert texts["a"][r["start"]:r["end"]] == r["text"]
        assert set(r) == {"article_id", "path", "sentence_index", "start", "end", "text", "label", "score",
                          "p_official_position", "p_third_party_skepticism", "p_neutral_reporting", "uncertain"}
        assert r["score"] == max(r["p_official_position"], r["p_third_party_skepticism"], r["p_neutral_reporting"])
    a = [r["text"] for r in rows if r["article_id"] == "a"]
    assert a[0] == "Harbour Plan Faces Doubts" and a[-1] == "The port handled 4.1 million containers last year."
    assert "\u201cNothing happens.\u201d" in a
    b = [r for r in rows if r["article_id"] == "b"]
    assert b[0]["text"] == "Rail Strike Ends" and b[0]["start"] == 0  # BOM and CRLF handled
    assert any(r["article_id"] == "j1" and r["text"] == "Court Upholds Ban" for r in rows)
    assert any(r["article_id"] == "e" and "central bank held" in r["text"] for r in rows)
    assert [r["text"] for r in rows if r["article_id"] == "e"].count("Rates Held") == 1  # <title> and <h1> once
    assert not any("Copyright" in r["text"] or "Markets" in r["text"] for r in rows)  # boilerplate removed
    errors = _rows(tmp_path / "out" / "pred.jsonl.errors.jsonl")
    reasons = {Path(e["path"]).name + (f":{e['line']}" if e["line"] else ""): e["reason"] for e in errors}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["binary.txt"] == "binary file (NUL bytes), not text"
    assert "missing text field 'text'" in reasons["c.jsonl:2"]
    header = json.loads((tmp_path / "out" / "pred.jsonl.run.json").read_text())
    assert header["model"] == str(tiny_model) and header["sentences"] == len(rows) and header["newsstance"]
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary["article_id"]) == {"a", "b", "j1", "d", "e"}
    row = summary[summary["article_id"] == "a"].iloc[0]
    assert row["sentences"] == len(a)
    assert abs(row["share_official_position"] + row["share_third_party_skepticism"] + row["share_neutral_reporting"] - 1) < 1e-3
    assert {"weighted_share_neutral_reporting", "first_skeptical_sentence", "skepticism_share_first_5"} <= set(summary.columns)
    assert not list((tmp_path / "out").glob("*.partial")) and not list((tmp_path / "out").glob("*.journal"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_outputs(articles, tmp_path, tiny_model, fmt):
    (tmp_path / "out").mkdir()
    options = _options(articles, tmp_path, tiny_model)
    options.output = str(tmp_path / "out" / f"pred.{fmt}")
    run_predict(options, progress=False)
    frame = pd.read_csv(options.output) if fmt == "csv" else pd.read_parquet(options.output)
    reference = tmp_path / "ref.jsonl"
    options2 = _options(articles, tmp_path, tiny_model)
    options2.output = str(reference)
    run_predict(options2, progress=False)
    assert len(frame) == len(_rows(reference)) and "p_neutral_reporting" in frame.columns


def test_interrupted_run_resumes_without_duplicates(articles, tmp_path, tiny_model, monkeypatch):
    (tmp_path / "out").mkdir()
    full = _options(articles, tmp_path, tiny_model)
    full.output = str(tmp_path / "out" / "full.jsonl")
    run_predict(full, progress=False)
    restore = interrupt_predict_after(monkeypatch, chunks=2)
    options = _options(articles, tmp_path, tiny_model)
    with pytest.raises(NewsstanceError, match="--resume"):
        run_predict(options, progress=False)
    assert not Path(options.output).exists() and Path(options.output + ".partial").exists()
    with pytest.raises(OutputExistsError, match="pass --resume"):
        run_predict(options, progress=False)
    restore()
    options.resume = True
    stats = run_predict(options, progress=False)
    assert stats.resumed_articles >= 2
    rows = _rows(options.output)
    keys = [(r["path"], r["article_id"], r["sentence_index"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted((r["path"], r["article_id"], r["sentence_index"]) for r in _rows(full.output))
    assert len(_rows(options.output + ".errors.jsonl")) == 3  # errors not duplicated either


def test_repeated_sentences_are_classified_once(tmp_path, tiny_model, monkeypatch):
    folder = tmp_path / "wire"
    folder.mkdir()
    boiler = "This story was distributed by a news agency."
    for i in range(4):
        (folder / f"{i}.txt").write_text(f"Story {i}\n\nThe minister spoke on day {i}. {boiler}\n")
    from newsstance.prediction.classifier import Classifier

    seen = []
    real = Classifier.probabilities

    def counting(self, texts, contexts=None, batch_size=64):
        seen.extend(texts)
        return real(self, texts, contexts, batch_size)

    monkeypatch.setattr(Classifier, "probabilities", counting)
    # a model without context makes the boilerplate the same input every time
    model = tmp_path / "noctx"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    config["newsstance"]["context"] = {"previous_sentence": False, "headline": False}
    (model / "config.json").write_text(json.dumps(config))
    stats = run_predict(PredictOptions(paths=[str(folder)], output=str(tmp_path / "p.jsonl"), model=str(model)), progress=False)
    assert seen.count(boiler) == 1 and stats.cache_hits == 3
    assert sum(1 for r in _rows(tmp_path / "p.jsonl") if r["text"] == boiler) == 4


@pytest.mark.parametrize("setup, message", [
    (lambda t: [str(t / "missing")], "no such file or folder"),
    (lambda t: [str((t / "emptydir").mkdir() or t / "emptydir")], "the folder is empty"),
    (lambda t: [str((t / "x.pdf").write_bytes(b"%PDF") and t / "x.pdf")], "no supported article files"),
])
def test_bad_inputs_are_refused(tmp_path, tiny_model, setup, message):
    with pytest.raises(NewsstanceError, match=message):
        run_predict(PredictOptions(paths=setup(tmp_path), output=str(tmp_path / "p.jsonl"), model=str(tiny_model)), progress=False)


def test_output_rules(articles, tmp_path, tiny_model, capsys):
    with pytest.raises(NewsstanceError, match="does not exist; create it first"):
        run_predict(PredictOptions(paths=[str(articles)], output=str(tmp_path / "nope" / "p.jsonl"), model=str(tiny_model)))
    out = tmp_path / "p.jsonl"
    out.write_text("previous results\n")
    code = main(["predict", str(articles), "-o", str(out), "--model", str(tiny_model)])
    assert code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "previous results\n"  # nothing already written is lost
    assert main(["predict", str(articles), "-o", str(out), "--model", str(tiny_model), "--overwrite"]) == 0
    assert len(_rows(out)) > 10


def test_not_a_model_folder(articles, tmp_path, capsys):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert main(["predict", str(articles), "-o", str(tmp_path / "p.jsonl"), "--model", str(fake)]) == 2
    assert "id2label is missing" in capsys.readouterr().err


def test_reader_errors_name_file_and_line(tmp_path, monkeypatch):
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("id,body\n1,Some text.\n")
    [error] = list(read_file(csv_file))
    assert error.message() == (f"{csv_file}:1: missing text column 'text' (columns: ['id', 'body']); name it with --text-field")
    [article] = list(read_file(csv_file, Fields(text="body")))
    assert article.text == "Some text." and article.id == "1"
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000)
    [error] = list(read_file(big, max_bytes=1000))
    assert "too large (2,000 bytes" in error.reason
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Caf\xe9 owners in S\xe3o Paulo said prices rose sharply this year.".encode("latin-1"))
    [article] = list(read_file(latin))
    assert "S\xe3o Paulo" in article.text
    locked = tmp_path / "locked.txt"
    locked.write_text("A sentence.")
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(PermissionError(13, "denied")))
    [error] = list(read_file(locked))
    assert error.reason == "permission denied"
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><div><p></div></html>")
    monkeypatch.undo()
    [error] = list(read_file(broken))
    assert "no article text found in the HTML" in error.reason


def test_analyze_article_api(tiny_model):
    from newsstance import analyze_article

    result = analyze_article(ARTICLE, model=tiny_model)
    assert result.sentences[0].text == "Harbour Plan Faces Doubts"
    for s in result.sentences:
        assert ARTICLE[s.start:s.end] == s.text
    assert result.summary["sentences"] == len(result.sentences)
    titled = analyze_article("The court upheld the ban.", title="Court Upholds Ban", model=tiny_model)
    assert [s.text for s in titled.sentences] == ["Court Upholds Ban", "The court upheld the ban."]


def test_onnx_backends_report_agreement(articles, tmp_path, tiny_model_copy):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    (tmp_path / "out").mkdir()
    for quantize in (None, "int8"):
        options = _options(articles, tmp_path, tiny_model_copy, backend="onnx", quantize=quantize, overwrite=True)
        stats = run_predict(options, progress=False)
        if quantize is None:
            assert stats.agreement_with_torch_fp32 == 1.0  # fp32 ONNX matches torch exactly
        else:  # int8 is checked for real in test_classifier.py; here the run must report a share
            assert 0.0 <= stats.agreement_with_torch_fp32 <= 1.0
    assert (tiny_model_copy / "onnx" / "model.onnx").exists() and (tiny_model_copy / "onnx" / "model.int8.onnx").exists()


def test_onnx_matches_torch_on_padded_batches(tiny_model_copy):
    pytest.importorskip("onnxruntime")
    import numpy as np

    from newsstance.prediction.onnx_backend import load_backend

    texts = ["Short.", "A much longer sentence about the budget, the vote and the opposition's many objections to it."] * 5
    torch_probs = load_backend(tiny_model_copy).probabilities(texts, batch_size=4)
    onnx_probs = load_backend(tiny_model_copy, "onnx").probabilities(texts, batch_size=4)
    np.testing.assert_allclose(torch_probs, onnx_probs, atol=1e-4)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_html_report_renders_highlights(articles, tmp_path, tiny_model):
    (tmp_path / "out").mkdir()
    html_dir = tmp_path / "out" / "html"
    run_predict(_options(articles, tmp_path, tiny_model, html=str(html_dir)), progress=False)
    index = (html_dir / "index.html").read_text()
    assert "Harbour Plan Faces Doubts" in index
    page = next(p for p in html_dir.glob("a-*.html") if "Harbour" in p.read_text())
    shot = tmp_path / "page.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
                    "--window-size=900,700", f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = set(image.getdata())
    # the label backgrounds are on the page: the sentences are highlighted
    highlighted = {(0xCF, 0xE3, 0xFF), (0xFF, 0xD6, 0xCC), (0xEC, 0xEC, 0xEC)}
    assert colours & highlighted


def test_resume_refuses_a_different_run_and_csv_keeps_paragraphs(articles, tmp_path, tiny_model, tiny_model_copy, monkeypatch):
    (tmp_path / "out").mkdir()
    restore = interrupt_predict_after(monkeypatch, chunks=1)
    options = _options(articles, tmp_path, tiny_model)
    with pytest.raises(NewsstanceError):
        run_predict(options, progress=False)
    restore()
    other = _options(articles, tmp_path, tiny_model_copy, resume=True)
    with pytest.raises(NewsstanceError, match="different model"):
        run_predict(other, progress=False)
    csv_file = tmp_path / "multi.csv"
    csv_file.write_text('id,text\n1,"First paragraph.\n\nSecond paragraph."\n')
    [article] = list(read_file(csv_file))
    assert article.text == "First paragraph.\n\nSecond paragraph."


def test_outputs_inside_the_input_folder_are_not_read_back(articles, tmp_path, tiny_model):
    out = articles / "results.jsonl"
    first = run_predict(PredictOptions(paths=[str(articles)], output=str(out), model=str(tiny_model), html=str(articles / "html")), progress=False)
    again = run_predict(PredictOptions(paths=[str(articles)], output=str(out), model=str(tiny_model), html=str(articles / "html"),
                                       overwrite=True), progress=False)
    assert again.articles == first.articles and again.errors == first.errors


def test_int8_reruns_near_ties_in_fp32(tiny_model_copy):
    pytest.importorskip("onnxruntime")
    from newsstance.prediction.onnx_backend import FALLBACK_MARGIN, load_backend

    texts = [f"The council said on day {i} that the budget vote would be delayed again." for i in range(40)]
    int8 = load_backend(tiny_model_copy, "onnx", "int8")
    fp32 = load_backend(tiny_model_copy, "onnx")
    probs = int8.probabilities(texts)
    assert int8.fallback_rows > 0  # a random tiny model is full of near-ties
    top2 = np.sort(probs, axis=1)[:, -2:]
    near = top2[:, 1] - top2[:, 0] < FALLBACK_MARGIN
    # every near-tie row now carries fp32 scores, so its label is fp32's
    assert (probs[near].argmax(1) == fp32.probabilities([t for t, n in zip(texts, near) if n]).argmax(1)).all()
