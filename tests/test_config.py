from pathlib import Path

import pytest

import yaml

from newsstance.config import Config, load_config, parse_override, shipped_configs, validate_config
from newsstance.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "newsstance" / "configs"


def test_packaged_configs_are_byte_identical_copies_of_configs():
    """configs/ is the source of truth; newsstance/configs/ ships it as package data."""
    top = {p.name: p.read_bytes() for p in (ROOT / "configs").glob("*.yaml")}
    packaged = {p.name: p.read_bytes() for p in PACKAGED.glob("*.yaml")}
    assert sorted(packaged) == sorted(top), "newsstance/configs/ must hold exactly the files of configs/"
    for name, data in top.items():
        assert packaged[name] == data, f"newsstance/configs/{name} is stale: cp configs/{name} newsstance/configs/{name}"
    assert sorted(shipped_configs()) == sorted(p[: -len(".yaml")] for p in top)


@pytest.mark.parametrize("name", sorted(shipped_configs()))
def test_every_packaged_config_validates(name):
    assert isinstance(validate_config(yaml.safe_load(shipped_configs()[name]), name), Config)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    text = path.read_text()
    assert "newsstance train" in text.splitlines()[0] + "".join(text.splitlines()[1:5])
    # every key line carries a comment
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.startswith("- ") and stripped.endswith(":") is False:
            assert "#" in line, f"{path.name}: key without a comment: {line!r}"


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_all_problems_reported_at_once_with_pinned_messages(tmp_path):
    path = _write(tmp_path, "model:\n  max_lenght: 64\n  init: random_tiny\ndata:\n  train: [x.jsonl]\n"
                            "training:\n  learning_rate: 1e-5\n  group_by_length: maybe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert f"{path}: model.max_lenght: unknown key; did you mean 'max_length'?" in problems
    assert (f"{path}: training.learning_rate: expected a valid number, got the string '1e-5' "
            "(YAML reads this exponent form as a string: write 1.0e-5)") in problems
    assert any(p.startswith(f"{path}: training.group_by_length: expected a valid boolean") for p in problems)
    assert len(problems) == 3


def test_yes_read_as_bool_is_caught(tmp_path):
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\nmodel:\n  name_or_path: yes\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: model.name_or_path: expected a valid string, got the boolean True "
        "(YAML reads yes/no/on/off as booleans: quote the value)"
    ]


def test_missing_required_and_unknown_section(tmp_path):
    path = _write(tmp_path, "trainin:\n  epochs: 2.0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}: data: expected a value, got nothing (this key is required)" in info.value.problems
    assert f"{path}: trainin: unknown key; did you mean 'training'?" in info.value.problems


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    path = _write(tmp_path, "data:\n  train: [a\n  b: : c\n")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: not valid YAML"):
        load_config(path)


def test_overrides_parse_numbers_and_apply(tmp_path):
    assert parse_override("training.learning_rate=3e-5") == (["training", "learning_rate"], 3e-5)
    assert parse_override("training.epochs=2") == (["training", "epochs"], 2)
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\n")
    cfg = load_config(path, ["training.learning_rate=3e-5", "model.context.previous_sentence=true"])
    assert cfg.training.learning_rate == 3e-5 and cfg.model.context.previous_sentence is True
    with pytest.raises(ConfigError, match="training.learnig_rate: unknown key; did you mean 'learning_rate'"):
        load_config(path, ["training.learnig_rate=1.0"])


def test_class_weights_must_name_labels(tmp_path):
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\ntraining:\n  class_weights: {skeptic: 2.0}\n")
    with pytest.raises(ConfigError, match=r"training.class_weights: expected label names from .*got unknown \['skeptic'\]"):
        load_config(path)


def test_keys_inside_lists_get_did_you_mean_and_duplicates_are_refused(tmp_path):
    path = _write(tmp_path, "data:\n  train:\n    - {path: x.jsonl, spilt: train}\ntraining:\n  class_weights: balance\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}: data.train.0.spilt: unknown key; did you mean 'split'?",
        f"{path}: training.class_weights: expected 'none' or 'balanced', got the string 'balance'",
    ]
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\ntraining:\n  epochs: 2.0\ntraining:\n  seed: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml:5: not valid YAML \(duplicate key 'training'"):
        load_config(path)
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\ntraining:\n  weight_decay: 1e2\n")
    with pytest.raises(ConfigError, match=r"write 1.0e\+2\)"):
        load_config(path)


@pytest.mark.parametrize("override, message", [
    ("training.seed=-1", "training.seed: expected greater than or equal to 0, got -1"),
    ("training.seed=4294967296", "training.seed: expected less than or equal to 4294967295, got 4294967296"),
    ("data.split.seed=-1", "data.split.seed: expected greater than or equal to 0, got -1"),
    ("training.threads=0", "training.threads: expected a positive integer or null (torch's default), got 0"),
    ("training.threads=-1", "training.threads: expected a positive integer or null (torch's default), got -1"),
    ("training.eval_steps=-5", "training.eval_steps: expected a positive integer or null (required with eval_strategy 'steps'), got -5"),
    ("training.early_stopping_patience=0",
     "training.early_stopping_patience: expected a positive integer or null (never stop early), got 0"),
    ("training.epochs=.inf", "training.epochs: expected a finite number, got inf"),
    ("training.epochs=.nan", "training.epochs: expected a finite number, got nan"),
    ("training.weight_decay=.inf", "training.weight_decay: expected a finite number, got inf"),
    ("training.max_steps=0", "training.max_steps: expected -1 (train for `epochs`) or a positive number of steps, got 0"),
    ("training.class_weights={neutral_reporting: .nan}",
     "training.class_weights: expected positive finite weights, got {'neutral_reporting': nan}"),
])
def test_numeric_keys_are_guarded(tmp_path, override, message):
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, [override])
    assert info.value.problems == [f"{path}: {message}"]


def test_null_keeps_optional_numbers_off(tmp_path):
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\ntraining:\n")  # an empty section takes --set too
    cfg = load_config(path, ["training.threads=null", "training.early_stopping_patience=null", "training.max_steps=-1"])
    assert cfg.training.threads is None and cfg.training.early_stopping_patience is None


def test_unparseable_set_value_names_the_argument(tmp_path):
    path = _write(tmp_path, "data:\n  train: [x.jsonl]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, ["training.learning_rate=[unclosed"])
    [problem] = info.value.problems
    assert problem.startswith("--set training.learning_rate=[unclosed: expected a YAML value after '=', got text YAML cannot parse")
    with pytest.raises(ConfigError, match="--set =3: expected a dotted key"):
        parse_override("=3")
