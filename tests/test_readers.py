"""Article inputs: which files a run reads (exclusions, recorded outputs, duplicates, deep and
unreadable folders) and how hostile or odd files become one clear error each, never a crash."""

import csv
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from newsstance.prediction import readers
from newsstance.prediction.inputs import InputError, inventory
from newsstance.prediction.readers import Fields, iter_articles, read_file

TEXT = "Harbour Plan Faces Doubts\n\nThe port authority said it would dredge the channel. Critics doubted it.\n"


def _names(paths):
    return sorted(Path(p).name for p in paths)


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    return folder


# --- which files a run reads ---------------------------------------------------------------

def test_nothing_is_excluded_by_name_prefix(folder):
    # `predict news.jsonl -o preds.jsonl --html news` used to skip news.jsonl ("news." prefix)
    (folder / "news.jsonl").write_text(json.dumps({"text": "The mayor said so."}) + "\n", encoding="utf-8")
    found = inventory([folder], exclude=[folder / "news", folder / "preds.jsonl"])
    assert _names(found.files) == ["a.txt", "news.jsonl"]
    assert found.excluded == []


def test_exactly_the_excluded_paths_are_left_out_and_listed(folder):
    (folder / "preds.jsonl").write_text("{}\n")
    (folder / "report").mkdir()
    (folder / "report" / "index.html").write_text("<html></html>")
    (folder / "report" / "a-1.html").write_text("<html></html>")
    found = inventory([str(folder)], exclude=[folder / "preds.jsonl", folder / "report"])
    assert _names(found.files) == ["a.txt"]
    assert _names(found.excluded) == ["a-1.html", "index.html", "preds.jsonl"]


def _previous_run(folder: Path) -> list[Path]:
    """The files a finished newsstance run leaves in `folder`, with its run record."""
    out = folder / "first.jsonl"
    outputs = [out, folder / "first.jsonl.errors.jsonl", folder / "summary.csv", folder / "report",
               folder / "first.jsonl.run.json", folder / "first.jsonl.lock"]
    out.write_text(json.dumps({"article_id": "a", "text": "The port said so.", "label": "official_position"}) + "\n")
    (folder / "first.jsonl.errors.jsonl").write_text(json.dumps({"path": "x", "line": None, "reason": "empty file"}) + "\n")
    (folder / "summary.csv").write_text("article_id,text\na,The port said so.\n")
    (folder / "report").mkdir()
    (folder / "report" / "index.html").write_text("<html></html>")
    (folder / "first.jsonl.lock").write_text("")
    (folder / "first.jsonl.run.json").write_text(json.dumps({"newsstance": "1.0", "outputs": [str(p.resolve()) for p in outputs]}))
    return outputs


def test_outputs_recorded_by_another_run_are_skipped_with_a_count(folder):
    _previous_run(folder)
    found = inventory([folder], exclude=[folder / "second.jsonl"])
    assert _names(found.files) == ["a.txt"]
    assert _names(found.excluded) == ["first.jsonl", "first.jsonl.errors.jsonl", "first.jsonl.lock",
                                      "first.jsonl.run.json", "index.html", "summary.csv"]
    # the record is found beside files named directly too
    found = inventory([folder / "a.txt", folder / "summary.csv"])
    assert _names(found.files) == ["a.txt"] and _names(found.excluded) == ["summary.csv"]


def test_outputs_listed_in_a_running_journal_are_skipped(folder):
    out = folder / "live.csv"
    listed = [out, folder / "live.csv.partial", folder / "live.csv.summary.partial", folder / "live.csv.journal"]
    (folder / "live.csv.partial").write_text(json.dumps({"text": "A row."}) + "\n")
    (folder / "live.csv.journal").write_text(json.dumps({"header": {"model": "m", "outputs": [str(p) for p in listed]}}) + "\n"
                                             + json.dumps({"done": []}) + "\n")
    found = inventory([folder])
    assert _names(found.files) == ["a.txt"]
    assert _names(found.excluded) == ["live.csv.journal", "live.csv.partial"]


def test_a_json_article_that_merely_looks_like_a_record_is_read(folder):
    (folder / "notes.run.json").write_text(json.dumps({"outputs": [str(folder / "a.txt")], "text": "The race was run."}))
    (folder / "odd.journal").write_text("not json\n")
    found = inventory([folder])
    assert _names(found.files) == ["a.txt", "notes.run.json"]
    assert found.excluded == [] and _names(found.unsupported) == ["odd.journal"]


def test_duplicates_are_read_once_and_counted(folder):
    os.symlink(folder / "a.txt", folder / "link.txt")
    found = inventory([folder, folder / "a.txt"])
    assert found.files == [(folder / "a.txt").resolve()]
    assert found.duplicates == 2  # the link, and the file named directly


def test_folders_1500_levels_deep_and_link_loops(tmp_path):
    top = tmp_path / "deep"
    path = str(top)
    os.mkdir(path)
    for _ in range(1500):
        path = os.path.join(path, "d")
        os.mkdir(path)
    try:
        Path(path, "bottom.txt").write_text(TEXT, encoding="utf-8")
        os.symlink(top, os.path.join(path, "loop"))  # a link back to the top
        found = inventory([top])
        assert [p.name for p in found.files] == ["bottom.txt"]
        assert found.duplicates == 0 and found.unreadable == []
    finally:  # shutil.rmtree recurses: take the tree down from the bottom
        os.unlink(os.path.join(path, "loop"))
        os.unlink(os.path.join(path, "bottom.txt"))
        while path != str(tmp_path):
            os.rmdir(path)
            path = os.path.dirname(path)


def test_an_unreadable_subfolder_is_counted_and_logged(folder, monkeypatch, caplog):
    locked = folder / "locked"
    locked.mkdir()
    (locked / "b.txt").write_text(TEXT)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == locked.resolve():
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.WARNING, logger="newsstance.prediction.readers"):
        found = inventory([folder])
    assert _names(found.files) == ["a.txt"]
    assert found.unreadable == [locked.resolve()]
    assert f"{locked.resolve()}: cannot list the folder (Permission denied)" in caplog.text
    with pytest.raises(InputError, match="the folder cannot be listed"):
        inventory([locked])


def test_a_broken_link_is_reported_not_silently_dropped(folder):
    os.symlink(folder / "gone.txt", folder / "broken.txt")
    found = inventory([folder])
    assert _names(found.files) == ["a.txt"] and found.unreadable == [folder.resolve() / "broken.txt"]


# --- one hostile file never ends the run -----------------------------------------------------

def test_json_nested_100000_deep_is_one_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    lines = tmp_path / "deep.jsonl"
    lines.write_text("[" * 100_000 + "\n" + json.dumps({"text": "The court ruled."}) + "\n")
    [error] = list(read_file(deep))
    assert error.reason.startswith("JSON nested too deeply to read")
    first, second = list(read_file(lines))
    assert first.line == 1 and first.reason.startswith("JSON nested too deeply") and second.text == "The court ruled."


def test_a_csv_field_over_128_kb_is_read(tmp_path):
    body = "The minister said the plan would work. " * 5000  # ~195 KB in one field
    path = tmp_path / "long.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "text"], ["1", body], ["2", "Short one."]])
    first, second = list(read_file(path))
    assert first.text == body and second.text == "Short one."


def test_a_csv_parse_error_names_the_row_and_keeps_earlier_rows(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text("id,text\n1,Fine.\n2," + "x" * 5000 + "\n")
    real = csv.field_size_limit()
    csv.field_size_limit(1000)  # a limit the reader cannot raise (the real one is raised to the file size)
    monkeypatch.setattr(csv, "field_size_limit", lambda *new: 1000)
    try:
        first, second = list(read_file(path))
    finally:
        monkeypatch.undo()
        csv.field_size_limit(real)
    assert first.text == "Fine."
    assert second.message() == f"{path}:3: row 2: not valid CSV (field larger than field limit (1000))"


def test_any_unexpected_exception_becomes_that_files_error(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(TEXT)
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "The port said so."}) + "\n")

    def boom(path, text):
        raise RuntimeError("something broke")

    monkeypatch.setattr(readers, "_plain", boom)
    items = list(iter_articles([tmp_path / "a.txt", tmp_path / "b.jsonl"]))
    assert items[0].message() == f"{tmp_path / 'a.txt'}: cannot be read (RuntimeError: something broke)"
    assert items[1].text == "The port said so."


# --- clear messages ----------------------------------------------------------------------------

@pytest.mark.parametrize("encoding,bom", [("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff")])
def test_utf32_with_bom_is_read_as_utf32(tmp_path, encoding, bom):
    path = tmp_path / "a.txt"
    path.write_bytes(bom + TEXT.encode(encoding))
    [article] = list(read_file(path))
    assert article.text == TEXT and "\x00" not in article.text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_text_not_binary(tmp_path, encoding):
    path = tmp_path / "a.txt"
    path.write_bytes("Caf\u00e9 owners \u201cdoubt\u201d it.\n\nThe mayor said so.".encode(encoding))
    [article] = list(read_file(path))
    assert article.text == "Caf\u00e9 owners \u201cdoubt\u201d it.\n\nThe mayor said so."


def test_binary_files_are_still_refused(tmp_path):
    for name, data in (("a.txt", b"\x00\x01\x02" * 100), ("b.txt", bytes(range(256)) * 8), ("c.txt", b"\x00" * 64)):
        (tmp_path / name).write_bytes(data)
        [error] = list(read_file(tmp_path / name))
        assert error.reason == "binary file (NUL bytes), not text", name


def test_a_utf16_bom_over_binary_data_is_refused(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xff\xfe" + b"A\x00\x00\x00" * 50)  # "A", NUL, "A", NUL...
    [error] = list(read_file(path))
    assert error.reason == "binary file (NUL characters after decoding as utf-16), not text"


def test_a_short_or_long_csv_row_names_its_field_count(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,text,title\n1,The port said so.,Port\n2\n3,Unquoted, commas, split this,T\n4,Trailing empty field.,T,\n")
    first, short, long, trailing = list(read_file(path))
    assert first.text == "Port\n\nThe port said so."
    assert short.message() == f"{path}:3: row 2 has 1 fields, the header has 3; check that row's quoting and commas"
    assert long.message() == f"{path}:4: row 3 has 5 fields, the header has 3; check that row's quoting and commas"
    assert trailing.text == "T\n\nTrailing empty field." and trailing.position == 4


def test_a_missing_html_package_is_one_clear_error(tmp_path, monkeypatch):
    page = tmp_path / "a.html"
    page.write_text("<html><body><article><p>The port said so.</p></article></body></html>")

    def missing():  # what justext raises under lxml >= 5.2 without lxml_html_clean
        raise ImportError("lxml.html.clean module is now a separate project lxml_html_clean.\n"
                          "Install lxml[html-clean] or lxml_html_clean directly.")

    monkeypatch.setattr(readers, "_extractor", missing)
    [error] = list(read_file(page))
    assert error.reason == ("reading .html files needs the Python package lxml_html_clean, which cannot be imported "
                            "(lxml.html.clean module is now a separate project lxml_html_clean.); "
                            "install it with `pip install lxml_html_clean`")
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # the real import failing
    [error] = list(read_file(page))
    assert error.reason.startswith("reading .html files needs the Python package trafilatura")
    assert error.reason.endswith("install it with `pip install trafilatura`")


def test_fields_still_name_the_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("key,body\nk1,The port said so.\n")
    [article] = list(read_file(path, Fields(id="key", text="body")))
    assert article.id == "k1" and article.text == "The port said so."
