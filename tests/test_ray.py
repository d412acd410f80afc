"""The Ray engine on a local Ray instance (loopback, 2 CPUs): the same rows as the local engine,
errors in the errors file, resume without duplicates, and classify_dataset."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import pyarrow.parquet as pq  # noqa: E402

from newsstance.distributed import RayOptions, classify_dataset, require_ray, run_ray_predict  # noqa: E402
from newsstance.errors import NewsstanceError  # noqa: E402
from newsstance.prediction.batch import PredictOptions, run_predict  # noqa: E402

ARTICLES = {
    "port.txt": "Harbour Authority Says Dredging Will Resume\n\nThe port authority said dredging would resume in March. "
                "Fishing cooperatives dismissed the timetable as wishful thinking. The channel silts up every year.\n",
    "rail.md": "# Rail Strike Enters Third Day\n\nTrain drivers stayed off work on Wednesday. The union said members "
               "would not return without a pay offer. The ministry called the strike unlawful.\n",
    "page.html": "<html><head><title>Court Upholds Ban</title></head><body><article><h1>Court Upholds Ban</h1>"
                 "<p>The court upheld the ban on Tuesday. The airline said it would appeal the ruling within weeks. "
                 "Analysts doubted that an appeal would succeed.</p></article></body></html>",
    "wire.jsonl": json.dumps({"id": "bank-1", "title": "Rates Held", "text": "The central bank held its key rate. "
                              "The governor said inflation was falling."}) + "\n{not json\n"
                  + json.dumps({"id": "farm-1", "text": "Farmers said the drought cut yields by a third. "
                                "Economists questioned the figure."}) + "\n",
    "empty.txt": "",
    "broken.json": "[{\"id\": 1, \"text\": ",
    "notes.bin": "not an article",
}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "articles"
    (root / "more").mkdir(parents=True)
    for i, (name, text) in enumerate(ARTICLES.items()):
        (root / ("more" if i % 2 else "") / name).write_text(text, encoding="utf-8")
    return root


def _key(row: dict) -> tuple:
    return row["path"], row["article_id"], row["sentence_index"]


def _ray_rows(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "sentences").to_pylist(), key=_key)


def _ray_errors(out: Path) -> list[tuple]:
    return sorted((r["path"], r["line"], r["reason"]) for r in pq.read_table(out / "errors").to_pylist())


def test_ray_rows_match_the_local_engine_row_for_row(local_ray, folder, tiny_model, tmp_path):
    local = tmp_path / "local.jsonl"
    stats = run_predict(PredictOptions(paths=[str(folder)], output=str(local), model=str(tiny_model)), progress=False)
    expected = sorted((json.loads(line) for line in local.read_text(encoding="utf-8").splitlines()), key=_key)
    expected_errors = sorted((e["path"], e["line"], e["reason"]) for e in
                             (json.loads(line) for line in Path(f"{local}.errors.jsonl").read_text().splitlines()))

    out = tmp_path / "ray-out"
    counts = run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), workers=2,
                                        chunk_files=3), progress=lambda m: None)
    rows = _ray_rows(out)
    assert counts["articles"] == stats.articles and counts["sentences"] == stats.sentences == len(rows)
    assert [_key(r) for r in rows] == [_key(r) for r in expected]
    for got, want in zip(rows, expected):
        assert set(got) == set(want)  # the same columns
        assert {k: got[k] for k in ("start", "end", "text", "label", "uncertain")} == \
               {k: want[k] for k in ("start", "end", "text", "label", "uncertain")}
        assert all(abs(got[k] - want[k]) <= 2e-5 for k in got if k.startswith("p_") or k == "score")
    assert _ray_errors(out) == expected_errors and len(expected_errors) == 3  # empty, broken JSON, bad JSONL line
    summary = pq.read_table(out / "summary").to_pylist()
    assert len(summary) == stats.articles and {s["path"] for s in summary} == {r["path"] for r in rows}
    assert len(list((out / "chunks").glob("chunk-*.json"))) == 2  # 6 readable-suffix files, 3 per chunk


def test_uri_inputs_are_read_through_pyarrow_with_the_local_engine_limits(local_ray, folder, tiny_model, tmp_path):
    local = tmp_path / "local.jsonl"
    run_predict(PredictOptions(paths=[str(folder)], output=str(local), model=str(tiny_model), max_bytes=200),
                progress=False)
    expected = sorted((Path(e["path"]).name, e["reason"]) for e in
                      (json.loads(line) for line in Path(f"{local}.errors.jsonl").read_text().splitlines()))
    out = tmp_path / "ray-out"
    run_ray_predict(RayOptions(paths=[folder.as_uri()], output=str(out), model=str(tiny_model), max_bytes=200),
                    progress=lambda m: None)
    errors = pq.read_table(out / "errors").to_pylist()
    assert all(e["path"].startswith("file://") for e in errors)
    assert sorted((Path(e["path"]).name, e["reason"]) for e in errors) == expected
    assert any("too large" in reason for _, reason in expected) and any(r == "empty file" for _, r in expected)
    local_rows = sorted((Path(r["path"]).name, r["sentence_index"], r["start"], r["end"], r["label"])
                        for r in (json.loads(line) for line in local.read_text(encoding="utf-8").splitlines()))
    assert local_rows and sorted((Path(r["path"]).name, r["sentence_index"], r["start"], r["end"], r["label"])
                                 for r in _ray_rows(out)) == local_rows


def test_resume_redoes_an_uncommitted_chunk_and_adds_nothing_twice(local_ray, folder, tiny_model, tmp_path):
    out = tmp_path / "ray-out"
    options = RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), workers=1, chunk_files=3)
    run_ray_predict(options, progress=lambda m: None)
    before = _ray_rows(out)
    # a run stopped after writing its last chunk's rows but before its commit record
    last = sorted((out / "chunks").glob("chunk-*.json"))[-1]
    last.unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / "sentences").glob("chunk-00001-*")}
    assert kept
    with pytest.raises(NewsstanceError, match="--resume .* or --overwrite"):
        run_ray_predict(options, progress=lambda m: None)
    counts = run_ray_predict(RayOptions(**{**options.__dict__, "resume": True}), progress=lambda m: None)
    assert counts["resumed_files"] == 3 and counts["articles"] > 0
    assert _ray_rows(out) == before  # the same rows, none twice
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # committed chunks were not rewritten
    # a resume with nothing left does nothing
    assert run_ray_predict(RayOptions(**{**options.__dict__, "resume": True}), progress=lambda m: None)["articles"] == 0


def test_an_output_folder_of_another_run_or_not_ours_is_refused(local_ray, folder, tiny_model, tmp_path):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "thesis.docx").write_text("mine")
    with pytest.raises(NewsstanceError, match="not a newsstance Ray output"):
        run_ray_predict(RayOptions(paths=[str(folder)], output=str(stranger), model=str(tiny_model), overwrite=True))
    assert (stranger / "thesis.docx").read_text() == "mine"
    out = tmp_path / "ray-out"
    run_ray_predict(RayOptions(paths=[str(folder / "port.txt")], output=str(out), model=str(tiny_model)),
                    progress=lambda m: None)
    with pytest.raises(NewsstanceError, match="holds a different run .*inputs"):
        run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), resume=True))


def test_classify_dataset_adds_the_labels_classify_gives(local_ray, tiny_model):
    from newsstance import classify

    texts = ["The ministry said it would appeal.", "Critics called the plan unworkable.", "The bridge is 40 m long."]
    ds = ray.data.from_items([{"text": t, "source": "wire"} for t in texts])
    rows = sorted(classify_dataset(ds, model=str(tiny_model)).take_all(), key=lambda r: texts.index(r["text"]))
    expected = classify(texts, model=str(tiny_model))
    assert [r["label"] for r in rows] == [p.label for p in expected]
    assert all(abs(r["score"] - p.score) < 1e-4 for r, p in zip(rows, expected))  # classify() rounds to 5 places
    assert all(r["source"] == "wire" for r in rows)  # other columns ride along
    with pytest.raises(NewsstanceError, match="no column 'body'"):
        classify_dataset(ds, text_column="body", model=str(tiny_model))


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(NewsstanceError, match=r'pip install "newsstance\[ray\]"'):
        require_ray()


def test_cli_refuses_local_only_options_with_the_ray_engine(folder, tmp_path, capsys):
    from newsstance.cli import main

    assert main(["predict", str(folder), "-o", str(tmp_path / "o"), "--engine", "ray", "--html", str(tmp_path / "h")]) != 0
    assert "--html: not available with --engine ray" in capsys.readouterr().err
    assert main(["predict", str(folder), "-o", str(tmp_path / "o.jsonl"), "--workers", "2"]) != 0
    assert "apply to --engine ray" in capsys.readouterr().err


def test_cuda_on_a_cluster_without_gpus_is_one_clear_error(local_ray, folder, tiny_model, tmp_path):
    with pytest.raises(NewsstanceError, match="--device cuda: the Ray cluster has no GPU"):
        run_ray_predict(RayOptions(paths=[str(folder)], output=str(tmp_path / "o"), model=str(tiny_model), device="cuda"))
    assert not (tmp_path / "o").exists()  # nothing committed, nothing left: no folder, as before


def test_a_worker_that_dies_mid_run_is_replaced_and_no_row_is_written_twice(local_ray, folder, tiny_model, tmp_path,
                                                                             monkeypatch):
    from newsstance.distributed import actors

    reference = tmp_path / "reference"
    run_ray_predict(RayOptions(paths=[str(folder)], output=str(reference), model=str(tiny_model)),
                    progress=lambda m: None)
    marker = tmp_path / "died-once"

    class DiesOnce(actors.ArticleLabeller):  # pickled by value into the actor
        def __call__(self, batch):
            if not marker.exists():
                marker.write_text("x")
                os._exit(1)  # the worker process dies mid-task, as on an OOM kill or a lost node
            return super().__call__(batch)

    monkeypatch.setattr(actors, "ArticleLabeller", DiesOnce)
    out = tmp_path / "ray-out"
    counts = run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model)),
                             progress=lambda m: None)
    assert marker.exists()  # it did die
    assert _ray_rows(out) == _ray_rows(reference)  # Ray retried the task on a new actor: every row, once
    assert counts["sentences"] == len(_ray_rows(reference))


def test_an_address_where_nothing_listens_fails_in_seconds_before_anything_is_written(folder, tiny_model, tmp_path):
    import socket

    with socket.socket() as s:  # a free loopback port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "o"
    for address in (f"ray://127.0.0.1:{port}", f"127.0.0.1:{port}"):
        with pytest.raises(NewsstanceError, match=f"--address {address}: nothing answers at 127.0.0.1:{port}"):
            run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), address=address))
    for address in ("headnode", "ray://headnode", "headnode:70000"):
        with pytest.raises(NewsstanceError, match="expected auto, HOST:PORT or ray://HOST:PORT"):
            run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), address=address))
    assert not out.exists()


def test_a_second_run_on_the_same_folder_is_refused_and_named(folder, tiny_model, tmp_path):
    from newsstance.distributed import LOCK
    from newsstance.prediction.journal import OutputLock

    out = tmp_path / "o"
    out.mkdir()
    with OutputLock(out / LOCK, out):  # as a running Ray predict holds it
        with pytest.raises(NewsstanceError, match=rf"another newsstance predict is writing .*o \(pid {os.getpid()}\)"):
            run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model)))
    assert not list(out.iterdir())  # the holder cleaned up; the refused run wrote nothing


def test_a_run_that_cannot_connect_leaves_a_new_folder_empty_and_an_old_run_intact(local_ray, folder, tiny_model,
                                                                                    tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if Path("/tmp/ray/ray_current_cluster").exists():
        pytest.skip("a Ray cluster started with `ray start` runs here: `auto` would find it")
    old = tmp_path / "old"
    options = RayOptions(paths=[str(folder / "port.txt"), str(folder / "more" / "rail.md")], output=str(old),
                         model=str(tiny_model), chunk_files=1)
    run_ray_predict(options, progress=lambda m: None)
    (old / "chunks" / "chunk-00002.json").unlink()  # stopped before its second chunk's commit
    committed = {p: p.read_bytes() for p in old.rglob("*") if p.is_file() and "chunk-00002" not in p.name}
    ray.shutdown()  # the last test of the module: `auto` must look for a cluster, and find none
    out = tmp_path / "o"
    with pytest.raises(NewsstanceError, match="cannot reach the Ray cluster at 'auto'"):
        run_ray_predict(RayOptions(paths=[str(folder)], output=str(out), model=str(tiny_model), address="auto"))
    assert not out.exists()  # the folder it created is gone: a rerun is not refused as "holds a run already"
    with pytest.raises(NewsstanceError, match="cannot reach the Ray cluster at 'auto'"):
        run_ray_predict(replace(options, address="auto", resume=True))
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == committed  # the committed chunk is kept
