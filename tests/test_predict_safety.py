"""Predict outputs are never lost or mixed: one writer per output, every output checked before
anything is touched, exact exclusion of a run's own files, resume that checks what changed,
and a finish that a crash cannot leave half-done."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from conftest import interrupt_predict_after
from newsstance.cli import main
from newsstance.errors import NewsstanceError
from newsstance.prediction import batch
from newsstance.prediction.batch import PredictOptions, run_predict

STORIES = {
    "a.txt": "Harbour Plan Faces Doubts\n\nThe port authority said on Monday it would dredge the channel. "
             "Critics dismissed the plan as wishful thinking.\n",
    "b.txt": "Rail Strike Ends\n\nThe union said members would return on Friday. Commuters were relieved.\n",
    "c.md": "# Mayor Vows Wall\n\nThe mayor said a wall would be built. Engineers doubted it.\n",
}


@pytest.fixture
def inp(tmp_path) -> Path:
    folder = tmp_path / "inp"
    folder.mkdir()
    for name, text in STORIES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def _predict(*argv) -> list[str]:
    return ["predict", *map(str, argv)]


# 1. one writer per output

def test_a_second_run_on_a_locked_output_fails_fast_naming_the_holder(inp, tmp_path, tiny_model, capsys):
    out = tmp_path / "p.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys, filelock
        lock = filelock.FileLock({str(out) + '.lock'!r}, timeout=0)
        lock.acquire()
        open({str(out) + '.lock.pid'!r}, 'w').write(str(os.getpid()))
        print('held', flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--resume"], ["--overwrite"]):
            code = main(_predict(inp, "-o", out, "--model", tiny_model, *extra))
            err = capsys.readouterr().err
            assert code != 0
            assert f"another newsstance predict is writing {out} (pid {holder.pid})" in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["inp", "p.jsonl.lock", "p.jsonl.lock.pid"]  # nothing touched
    finally:
        holder.communicate("")
    assert main(_predict(inp, "-o", out, "--model", tiny_model)) == 0  # free again once the holder is gone
    assert not Path(str(out) + ".lock").exists() and not Path(str(out) + ".lock.pid").exists()


# 2. every output follows the rule of -o

def test_outputs_that_collide_with_each_other_or_an_input_are_refused(inp, tmp_path, tiny_model, capsys):
    same = tmp_path / "same.csv"
    assert main(_predict(inp, "-o", same, "--summary", same, "--model", tiny_model)) == 2
    assert f"--summary and -o are the same file ({same})" in capsys.readouterr().err
    assert not same.exists()
    before = (inp / "a.txt").read_text()
    for option in ("--summary", "-o"):
        argv = _predict(inp, "--model", tiny_model, "--overwrite", option, inp / "a.txt")
        if option == "--summary":
            argv += ["-o", str(tmp_path / "p.jsonl")]
        assert main(argv) == 2
        assert "is an article file in the input folder" in capsys.readouterr().err
    assert main(_predict(inp / "b.txt", "-o", inp / "b.txt", "--model", tiny_model, "--overwrite")) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert main(_predict(inp, "-o", tmp_path / "p.jsonl", "--html", tmp_path, "--model", tiny_model)) == 2
    assert "contains one of the inputs" in capsys.readouterr().err
    assert (inp / "a.txt").read_text() == before and (inp / "b.txt").read_text() == STORIES["b.txt"]
    assert not (tmp_path / "p.jsonl").exists()


def test_existing_summary_errors_and_record_need_overwrite(inp, tmp_path, tiny_model, capsys):
    summary = tmp_path / "mine.csv"
    summary.write_text("my own table\n")
    out = tmp_path / "p.jsonl"
    assert main(_predict(inp, "-o", out, "--summary", summary, "--model", tiny_model)) == 2
    assert f"{summary}: already exists (--summary); pass --overwrite" in capsys.readouterr().err
    assert summary.read_text() == "my own table\n" and not out.exists()
    record = tmp_path / "p.jsonl.run.json"
    record.write_text("{}")
    assert main(_predict(inp, "-o", out, "--model", tiny_model)) == 2
    assert "already exists (the run record)" in capsys.readouterr().err
    record.unlink()
    assert main(_predict(inp, "-o", out, "--summary", summary, "--model", tiny_model, "--overwrite")) == 0
    assert set(pd.read_csv(summary)["article_id"]) == {"a", "b", "c"}


def test_html_folder_is_replaced_only_when_it_holds_a_newsstance_report(inp, tmp_path, tiny_model, capsys):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>my homepage</p>")
    for extra in ([], ["--overwrite"]):
        assert main(_predict(inp, "-o", tmp_path / "p.jsonl", "--html", site, "--model", tiny_model, *extra)) == 2
        err = capsys.readouterr().err
        assert f"--html {site}: the folder is not empty and holds no newsstance report" in err
    assert (site / "index.html").read_text() == "<p>my homepage</p>" and not (tmp_path / "p.jsonl").exists()

    report = tmp_path / "report"
    assert main(_predict(inp, "-o", tmp_path / "p.jsonl", "--html", report, "--model", tiny_model)) == 0
    first = {p.name for p in report.glob("a-*.html")}
    assert len(first) == 3 and (report / ".newsstance-report.jsonl").exists()
    assert main(_predict(inp, "-o", tmp_path / "q.jsonl", "--html", report, "--model", tiny_model)) == 2
    assert "already holds a newsstance report; pass --overwrite" in capsys.readouterr().err
    (report / "a-my-own-notes.html").write_text("mine")  # a user's file that looks like a page
    (inp / "c.md").unlink()  # the next report has one article fewer: its old page must go
    assert main(_predict(inp, "-o", tmp_path / "q.jsonl", "--html", report, "--model", tiny_model, "--overwrite")) == 0
    pages = {p.name for p in report.glob("a-*.html")}
    assert (report / "a-my-own-notes.html").read_text() == "mine"
    assert len(pages - {"a-my-own-notes.html"}) == 2 and pages - {"a-my-own-notes.html"} < first
    index = (report / "index.html").read_text()
    assert all(name in index for name in pages - {"a-my-own-notes.html"})


# 3. exact exclusion, counted

def test_only_the_runs_own_outputs_are_excluded_and_they_are_counted(tmp_path, tiny_model, capsys):
    news = tmp_path / "news.jsonl"
    news.write_text(json.dumps({"id": "n1", "text": "The minister said the budget would pass. Critics doubted it."}) + "\n")
    stats = run_predict(PredictOptions(paths=[str(news)], output=str(tmp_path / "preds.jsonl"), model=str(tiny_model),
                                       html=str(tmp_path / "news")), progress=False)
    assert stats.articles == 1  # news.jsonl is not skipped for sharing a prefix with --html news

    folder = tmp_path / "inp"
    folder.mkdir()
    (folder / "a.txt").write_text(STORIES["a.txt"])
    first = run_predict(PredictOptions(paths=[str(folder)], output=str(folder / "one.jsonl"), model=str(tiny_model),
                                       summary=str(folder / "one.csv"), html=str(folder / "one")), progress=False)
    record = json.loads((folder / "one.jsonl.run.json").read_text())
    assert {str((folder / n).resolve()) for n in ("one.jsonl", "one.csv", "one", "one.jsonl.run.json", "one.jsonl.lock")} \
        <= set(record["outputs"])
    assert main(_predict(folder, "-o", folder / "two.jsonl", "--model", tiny_model)) == 0
    out = capsys.readouterr().out
    second = json.loads((folder / "two.jsonl.run.json").read_text())
    assert second["articles"] == first.articles == 1
    assert second["excluded_outputs"] >= 3 and f"skipped {second['excluded_outputs']} of newsstance's own output file(s)" in out


def test_the_journal_header_lists_every_file_of_the_run(inp, tmp_path, tiny_model, monkeypatch):
    interrupt_predict_after(monkeypatch, chunks=1)
    out = tmp_path / "p.jsonl"
    with pytest.raises(NewsstanceError):
        run_predict(PredictOptions(paths=[str(inp)], output=str(out), model=str(tiny_model), summary=str(tmp_path / "s.csv"),
                                   html=str(tmp_path / "h")), progress=False)
    header = json.loads(Path(str(out) + ".journal").read_text().splitlines()[0])["header"]
    names = {Path(p).name for p in header["outputs"]}
    assert names >= {"p.jsonl", "p.jsonl.partial", "p.jsonl.summary.partial", "p.jsonl.journal", "p.jsonl.errors.jsonl",
                     "p.jsonl.run.json", "p.jsonl.lock", "s.csv", "h"}


# 6. resume checks what the rows depend on

def test_resume_refuses_changed_weights_or_inputs_naming_them(inp, tmp_path, tiny_model_copy, monkeypatch):
    restore = interrupt_predict_after(monkeypatch, chunks=1)
    options = PredictOptions(paths=[str(inp)], output=str(tmp_path / "p.jsonl"), model=str(tiny_model_copy))
    with pytest.raises(NewsstanceError, match="--resume"):
        run_predict(options, progress=False)
    restore()
    options.resume = True
    weights = tiny_model_copy / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # retrained in place: same path, other weights
    with pytest.raises(NewsstanceError, match=r"the model weights in .* changed since the interrupted run"):
        run_predict(options, progress=False)
    weights.write_bytes(original)
    (inp / "a.txt").write_text(STORIES["a.txt"] + "One more line.\n")
    size = len(STORIES["a.txt"].encode())
    with pytest.raises(NewsstanceError, match=rf"input .*a\.txt changed \(size {size} -> {size + 15}\)"):
        run_predict(options, progress=False)
    (inp / "a.txt").write_text(STORIES["a.txt"])
    os.utime(inp / "a.txt")
    with pytest.raises(NewsstanceError, match=r"a\.txt changed \(modified time changed\)"):
        run_predict(options, progress=False)


def test_resume_refuses_adding_html_or_summary(inp, tmp_path, tiny_model, monkeypatch, capsys):
    restore = interrupt_predict_after(monkeypatch, chunks=1)
    out = tmp_path / "p.jsonl"
    assert main(_predict(inp, "-o", out, "--model", tiny_model)) == 130
    restore()
    capsys.readouterr()
    assert main(_predict(inp, "-o", out, "--model", tiny_model, "--resume", "--html", tmp_path / "h")) == 2
    assert "--html" in capsys.readouterr().err and not (tmp_path / "h").exists()
    assert main(_predict(inp, "-o", out, "--model", tiny_model, "--resume", "--summary", tmp_path / "s.csv")) == 2
    assert "--summary" in capsys.readouterr().err
    assert main(_predict(inp, "-o", out, "--model", tiny_model, "--resume")) == 0


# 8. a crash while finishing leaves a run that --resume finishes

@pytest.mark.parametrize("when", ["before the rename", "after the rename"])
def test_resume_finishes_a_run_that_crashed_while_finishing(inp, tmp_path, tiny_model, monkeypatch, capsys, when):
    (inp / "bad.txt").write_text("")  # one error, so the errors file is kept
    real = batch.finalize_rows

    def crash(partial, target, fmt, before_rename=None):
        if when == "after the rename":
            real(partial, target, fmt, before_rename)
        else:
            before_rename()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "finalize_rows", crash)
    out, summary, html = tmp_path / "p.csv", tmp_path / "s.csv", tmp_path / "h"
    argv = _predict(inp, "-o", out, "--summary", summary, "--html", html, "--model", tiny_model)  # strings
    with pytest.raises(OSError):
        main(argv)
    # everything but the predictions' rename was done first
    assert summary.exists() and (html / "index.html").exists() and Path(f"{out}.run.json").exists()
    assert out.exists() == (when == "after the rename")
    monkeypatch.setattr(batch, "finalize_rows", real)
    assert main(argv) == 2
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert main(argv + ["--resume"]) == 0
    assert len(pd.read_csv(out)) > 6 and set(pd.read_csv(summary)["article_id"]) == {"a", "b", "c"}
    assert not Path(f"{out}.journal").exists() and not Path(f"{out}.partial").exists()
    assert len(_rows(f"{out}.errors.jsonl")) == 1
    record = json.loads(Path(f"{out}.run.json").read_text())
    assert record["articles"] == 3 and record["errors"] == 1


# clear messages

def test_output_a_folder_or_html_a_file_is_refused_clearly(inp, tmp_path, tiny_model, capsys):
    assert main(_predict(inp, "-o", tmp_path, "--model", tiny_model)) == 2
    assert f"-o {tmp_path}: is a folder; give a file name" in capsys.readouterr().err
    page = tmp_path / "report.html"
    page.write_text("mine")
    assert main(_predict(inp, "-o", tmp_path / "p.jsonl", "--html", page, "--model", tiny_model)) == 2
    assert f"--html {page}: is a file, not a folder" in capsys.readouterr().err
    assert page.read_text() == "mine"


def test_ctrl_c_during_model_load_does_not_suggest_resume(inp, tmp_path, tiny_model, monkeypatch, capsys):
    from newsstance.prediction import onnx_backend

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_backend, "load_backend", interrupted)
    out = tmp_path / "p.jsonl"
    assert main(_predict(inp, "-o", out, "--model", tiny_model)) == 130
    err = capsys.readouterr().err
    assert "nothing to resume; run the same command again" in err and "--resume" not in err
    monkeypatch.undo()
    assert main(_predict(inp, "-o", out, "--model", tiny_model)) == 0  # and the same command indeed works


def test_main_interrupt_message_promises_nothing(monkeypatch, capsys):
    from newsstance.cli import train

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "_compare", interrupted)
    assert main(["compare", "x"]) == 130
    assert "--resume" not in capsys.readouterr().err


def test_format_must_agree_with_the_output_name(inp, tmp_path, tiny_model, capsys):
    assert main(_predict(inp, "-o", tmp_path / "x.parquet", "--format", "csv", "--model", tiny_model)) == 2
    assert "named .parquet but --format is csv" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()
    assert main(_predict(inp, "-o", tmp_path / "x.out", "--format", "csv", "--model", tiny_model)) == 0
    assert len(pd.read_csv(tmp_path / "x.out")) > 6


@pytest.mark.parametrize("option, value, message", [
    ("--batch-size", "0", "expected a whole number >= 1, got 0"),
    ("--batch-size", "-1", "expected a whole number >= 1, got -1"),
    ("--threads", "-1", "expected a whole number >= 1, got -1"),
    ("--max-bytes", "0", "expected a whole number >= 1, got 0"),
    ("--min-confidence", "nan", "expected a number from 0 to 1, got nan"),
    ("--min-confidence", "1.5", "expected a number from 0 to 1, got 1.5"),
])
def test_numeric_options_are_checked_at_the_cli(tmp_path, option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(_predict(tmp_path, "-o", tmp_path / "p.jsonl", option, value))
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": -1}, "batch_size: expected a whole number >= 1, got -1"),
    ({"batch_size": 0}, "batch_size: expected a whole number >= 1, got 0"),
    ({"threads": 0}, "threads: expected a whole number >= 1, got 0"),
    ({"max_bytes": -5}, "max_bytes: expected a whole number >= 1, got -5"),
    ({"min_confidence": float("nan")}, "min_confidence: expected a number from 0 to 1, got nan"),
    ({"min_confidence": -0.1}, "min_confidence: expected a number from 0 to 1, got -0.1"),
    ({"format": "xlsx"}, "format: expected one of jsonl, csv, parquet, got 'xlsx'"),
])
def test_numeric_options_are_checked_in_the_library(tmp_path, kwargs, message):
    with pytest.raises(NewsstanceError, match=message.replace("(", r"\(")):
        PredictOptions(paths=[str(tmp_path)], output=str(tmp_path / "p.jsonl"), **kwargs)
    options = PredictOptions(paths=[str(tmp_path)], output=str(tmp_path / "p.jsonl"))
    for key, value in kwargs.items():
        setattr(options, key, value)  # changed after it was built: run_predict checks again
    with pytest.raises(NewsstanceError, match=message.replace("(", r"\(")):
        run_predict(options, progress=False)
