"""Typed run configuration, validated once at load.

Defaults live only here. `load_config` reads a YAML file, applies `--set` overrides and
reports every problem at once as `FILE: dotted.key: expected ..., got ...`.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from newsstance import defaults
from newsstance.errors import ConfigError
from newsstance.labels import LABELS

PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
MAX_SEED = 2**32 - 1  # numpy and scikit-learn take seeds in [0, 2**32)


class _Section(BaseModel):
    # strict: "1e-5" (a YAML string) is not silently coerced to a float, `yes` is not a string.
    model_config = ConfigDict(extra="forbid", strict=True)


class ContextConfig(_Section):
    """What the model sees besides the sentence, as a second segment."""

    previous_sentence: bool = False  # the sentence before, from the same article
    headline: bool = False  # the article's headline (its first sentence)


class ModelConfig(_Section):
    name_or_path: str = PACKAGED_MINILM  # hub id, local folder, or packaged:all-MiniLM-L6-v2
    init: Literal["pretrained", "random_tiny"] = "pretrained"  # random_tiny: 2-layer random BERT
    max_length: int = Field(128, ge=8, le=512)  # tokens per input (sentence + context)
    context: ContextConfig = ContextConfig()


class Source(_Section):
    """One labelled sentence table."""

    path: str
    # polnear: offsets + labels, text read from a PolNeAR copy; soft: a teacher's probabilities
    # per row (newsstance.data.soft; training data only, with training.distill)
    kind: Literal["table", "polnear", "soft"] = "table"
    split: Union[str, None] = None  # keep only rows whose `split` column equals this

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value


class ColumnsConfig(_Section):
    """Column names in the sentence tables."""

    text: str = "text"
    label: str = "label"
    doc_id: str = "doc_id"
    sentence_index: str = "sentence_index"


class SplitConfig(_Section):
    """Used only when no validation/test files are given: split train by article."""

    validation_fraction: float = Field(0.15, ge=0.0, lt=0.5, allow_inf_nan=False)
    test_fraction: float = Field(0.15, ge=0.0, lt=0.5, allow_inf_nan=False)
    seed: int = Field(defaults.SEED, ge=0, le=MAX_SEED)


class DataConfig(_Section):
    train: list[Source] = Field(min_length=1)
    validation: list[Source] = []
    test: list[Source] = []
    extra_validation: dict[str, list[Source]] = {}  # further named validation sets (selection, calibration)
    extra_eval: dict[str, list[Source]] = {}  # further named sets evaluated separately
    columns: ColumnsConfig = ColumnsConfig()
    split: SplitConfig = SplitConfig()
    polnear_dir: Union[str, None] = None  # PolNeAR copy; None: $NEWSSTANCE_POLNEAR, ../shared, cache


class DistillConfig(_Section):
    """Knowledge distillation from soft rows (newsstance.training.distill)."""

    # weight of the KL term on soft rows; 1 - alpha weighs cross-entropy on gold rows; 0 drops soft rows
    alpha: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)
    temperature: float = Field(2.0, gt=0, le=100, allow_inf_nan=False)  # softens teacher and student alike
    teacher: Union[str, None] = None  # the teacher's model folder: checked against the fingerprint when present
    teacher_fingerprint: Union[str, None] = None  # SHA-256 of its weights; the soft tables must carry it


class TrainingConfig(_Section):
    epochs: float = Field(4.0, gt=0, allow_inf_nan=False)
    max_steps: int = -1  # > 0 overrides epochs; -1: train for `epochs`
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(defaults.BATCH_SIZE, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    learning_rate: float = Field(5e-5, gt=0, lt=1, allow_inf_nan=False)
    weight_decay: float = Field(0.01, ge=0, allow_inf_nan=False)
    warmup_ratio: float = Field(0.1, ge=0, lt=1, allow_inf_nan=False)
    lr_scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    seed: int = Field(defaults.SEED, ge=0, le=MAX_SEED)
    class_weights: Union[Literal["none", "balanced"], dict[str, float]] = "none"
    group_by_length: bool = True
    eval_strategy: Literal["epoch", "steps"] = "epoch"
    eval_steps: Union[int, None] = None
    metric_for_best_model: Literal["macro_f1", "accuracy", "loss"] = "macro_f1"
    # validation sets whose mean metric picks the best checkpoint and drives early stopping:
    # `validation` and names from data.extra_validation; null: all of them
    select_on: Union[list[str], None] = Field(None, min_length=1)
    early_stopping_patience: Union[int, None] = 2
    logging_steps: int = Field(50, ge=1)
    threads: Union[int, None] = None  # torch threads; None keeps torch's default
    # mixed precision (newsstance.devices.training_precision): auto = bf16 on a CUDA GPU that has
    # it, else fp16 on CUDA, fp32 on the CPU and MPS; bf16/fp16 where the device cannot is an error
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    distill: Union[DistillConfig, None] = None  # with `kind: soft` training sources

    @field_validator("class_weights")
    @classmethod
    def _known_labels(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(LABELS))
            if unknown:
                raise ValueError(f"label names from {list(LABELS)}, got unknown {unknown}")
            if any(not math.isfinite(w) or w <= 0 for w in value.values()):
                raise ValueError(f"positive finite weights, got {value}")
        return value

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        if value != -1 and value < 1:
            raise ValueError(f"-1 (train for `epochs`) or a positive number of steps, got {value}")
        return value

    @field_validator("eval_steps", "early_stopping_patience", "threads")
    @classmethod
    def _positive_or_null(cls, value: Union[int, None], info) -> Union[int, None]:
        if value is not None and value < 1:
            meaning = {"eval_steps": "required with eval_strategy 'steps'",
                       "early_stopping_patience": "never stop early", "threads": "torch's default"}[info.field_name]
            raise ValueError(f"a positive integer or null ({meaning}), got {value}")
        return value

    @model_validator(mode="after")
    def _steps_need_eval_steps(self) -> "TrainingConfig":
        if self.eval_strategy == "steps" and not self.eval_steps:
            raise ValueError("eval_steps (a positive integer) with eval_strategy 'steps', got none")
        return self


class EvaluationConfig(_Section):
    baselines: bool = True  # majority class and TF-IDF + logistic regression on the same split
    confusion_matrix_png: bool = True
    batch_size: int = Field(defaults.BATCH_SIZE, ge=1)


class CalibrationConfig(_Section):
    """Temperature scaling after training, and the default `uncertain` threshold."""

    # validation sets (pooled) the temperature and threshold are fitted on: `validation` and
    # names from data.extra_validation; null: all of them
    fit_on: Union[list[str], None] = Field(None, min_length=1)


class OutputConfig(_Section):
    dir: str = "models/default"
    overwrite: bool = False  # replace a folder that holds a different run
    keep_checkpoints: bool = False  # keep checkpoint-*/ after a successful run


class Config(_Section):
    model: ModelConfig = ModelConfig()
    data: DataConfig
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    output: OutputConfig = OutputConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def validation_sets(self) -> list[str]:
        """`validation` and the names of data.extra_validation, in order."""
        return ["validation", *self.data.extra_validation]

    @property
    def select_on(self) -> list[str]:
        return self.training.select_on or self.validation_sets

    @property
    def fit_on(self) -> list[str]:
        return self.calibration.fit_on or self.validation_sets


RESERVED_SET_NAMES = ("train", "validation", "test")


def _cross_checks(cfg: Config, source: str) -> list[str]:
    """Problems that span sections: set names must be unique and references must exist."""
    problems = []
    extra_validation, extra_eval = list(cfg.data.extra_validation), list(cfg.data.extra_eval)
    for section, names in (("data.extra_validation", extra_validation), ("data.extra_eval", extra_eval)):
        for name in names:
            if name in RESERVED_SET_NAMES:
                problems.append(f"{source}: {section}.{name}: expected a new set name, got {name!r}, which is "
                                f"reserved for data.{name}; rename it")
    for name in sorted(set(extra_validation) & set(extra_eval)):
        problems.append(f"{source}: data.extra_eval.{name}: expected a name not used by data.extra_validation, "
                        f"got {name!r} in both; rename one")
    known = cfg.validation_sets
    for key, names in (("training.select_on", cfg.training.select_on), ("calibration.fit_on", cfg.calibration.fit_on)):
        for name in names or []:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                fix = f"did you mean '{close[0]}'?" if close else "add it under data.extra_validation"
                problems.append(f"{source}: {key}: expected names of validation sets ({', '.join(known)}), "
                                f"got unknown {name!r}; {fix}")
        if names and len(set(names)) != len(names):
            problems.append(f"{source}: {key}: expected each set once, got {names}")
    return problems + _soft_checks(cfg, source)


def _soft_checks(cfg: Config, source: str) -> list[str]:
    """Soft rows train only, and only with training.distill; distill needs soft rows."""
    problems = []
    d = cfg.data
    named = [("data.validation", d.validation), ("data.test", d.test),
             *((f"data.extra_validation.{k}", v) for k, v in d.extra_validation.items()),
             *((f"data.extra_eval.{k}", v) for k, v in d.extra_eval.items())]
    for key, sources in named:
        for s in sources:
            if s.kind == "soft":
                problems.append(f"{source}: {key}: {s.path} is kind 'soft'; a teacher's probabilities are training "
                                "data only: evaluate on gold labels, move it to data.train")
    soft = [s.path for s in d.train if s.kind == "soft"]
    if soft and cfg.training.distill is None:
        problems.append(f"{source}: data.train: {soft[0]} is kind 'soft' but training.distill is not set; add "
                        "`distill: {alpha: 0.5, temperature: 2.0, teacher_fingerprint: ...}` under training")
    if cfg.training.distill is not None and not soft:
        problems.append(f"{source}: training.distill: set, but data.train has no `kind: soft` source to distil from; "
                        "add one or remove training.distill")
    return problems


# --- loading ---------------------------------------------------------------------------


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_YAML_BOOLS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


def parse_override(item: str) -> tuple[list[str], Any]:
    """`training.learning_rate=3e-5` -> (["training", "learning_rate"], 3e-05)."""
    if "=" not in item:
        raise ConfigError([f"--set {item}: expected KEY=VALUE, e.g. training.learning_rate=3e-5"])
    key, raw = item.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError([f"--set {item}: expected a dotted key before '=', e.g. training.learning_rate=3e-5, got {key!r}"])
    if _NUMBER.match(raw) and not raw.lstrip("+-").isdigit():
        return keys, float(raw)
    try:
        return keys, yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"--set {item}: expected a YAML value after '=', got text YAML cannot parse ({problem}); "
                           "quote a string value, e.g. --set 'key=\"[text\"'"]) from None


def _apply_override(raw: dict, keys: list[str], value: Any) -> None:
    node = raw
    for k in keys[:-1]:
        if node.get(k) is None:  # absent, or an empty section (`training:` with nothing under it)
            node[k] = {}
        node = node[k]
        if not isinstance(node, dict):
            raise ConfigError([f"--set {'.'.join(keys)}: expected {k} to be a section of keys, got {_describe(node)}"])
    node[keys[-1]] = value


def _section_model(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (for did-you-mean), looking through
    lists (`data.train.0.path`) and dicts of lists (`data.extra_eval.challenge.0.path`)."""
    import typing

    model: Any = Config
    for part in loc[:-1]:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            model = field.annotation
        else:  # a list[...] or dict[str, ...]: step into its item type
            args = typing.get_args(model)
            if not args:
                return None
            model = args[-1]
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    return repr(value)


def _hint(value: Any, expected: str) -> str:
    if isinstance(value, str) and _NUMBER.match(value):
        if "e" in value.lower():
            # YAML 1.1 floats need a dot in the mantissa and a sign in the exponent
            mantissa, exponent = value.lower().split("e")
            fixed = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent if exponent[:1] in '+-' else '+' + exponent}"
            return f" (YAML reads this exponent form as a string: write {fixed})"
        return " (a quoted number is a string: remove the quotes)"
    if isinstance(value, bool) and "bool" not in expected:
        return " (YAML reads yes/no/on/off as booleans: quote the value)"
    return ""


_UNION_TAG = re.compile(r"^(?:str|int|float|bool|dict\[.*\]|list\[.*\]|literal\[.*\]|function-.*|Source)$")


def _format_error(source: str, err: dict) -> str:
    # pydantic names the union branch it tried (literal['none','balanced'], dict[str,float], Source): drop it
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))
    key = ".".join(str(p) for p in loc) or "(top level)"
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        section = _section_model(loc)
        names = list(section.model_fields) if section else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(names)}"
        return f"{source}: {key}: unknown key; {fix}"
    if kind == "missing":
        return f"{source}: {key}: expected a value, got nothing (this key is required)"
    if kind == "value_error":
        return f"{source}: {key}: expected {err['msg'].replace('Value error, ', '')}"
    expected = err["msg"].replace("Input should be ", "")
    return f"{source}: {key}: expected {expected}, got {_describe(value)}{_hint(value, expected)}"


def validate_config(raw: Any, source: str = "<config>") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: expected a mapping of sections (model, data, training, ...), got {_describe(raw)}"])
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        seen: list[str] = []
        for err in exc.errors():
            message = _format_error(source, err)
            # a union reports one error per branch; keep the first per key
            if not any(m.split(": expected")[0] == message.split(": expected")[0] for m in seen):
                seen.append(message)
        raise ConfigError(seen) from None
    problems = _cross_checks(cfg, source)
    if problems:
        raise ConfigError(problems)
    return cfg


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (the first value would be silently lost)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a YAML config; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; pass the path of a YAML config such as configs/default.yaml"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the file ({exc})"]) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    for item in overrides:
        keys, value = parse_override(item)
        if isinstance(raw, dict):
            _apply_override(raw, keys, value)
    return validate_config(raw, str(path))


# --- shipped configs -------------------------------------------------------------------
# The YAML files in configs/ at the repository root are the source of truth (README and the
# Makefile use them); newsstance/configs/ holds byte-identical copies that ship as package data,
# so an installed newsstance can write one to edit (`newsstance init-config`). A test keeps the
# two in step: after editing configs/X.yaml, copy it to newsstance/configs/X.yaml.


def shipped_configs() -> dict[str, str]:
    """Name (file stem) -> YAML text of every config shipped inside the package."""
    from importlib import resources

    folder = resources.files("newsstance") / "configs"
    return {entry.name[: -len(".yaml")]: entry.read_text(encoding="utf-8")
            for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".yaml")}


def write_shipped_config(name: str, output: str | Path | None = None, overwrite: bool = False) -> Path:
    """Write the shipped config `name` to `output` (a file, or a folder to put NAME.yaml in;
    default ./NAME.yaml) and return the path. An existing file is replaced only with `overwrite`."""
    from newsstance.errors import NewsstanceError, OutputExistsError
    from newsstance.files import write_atomic

    configs = shipped_configs()
    if name not in configs:
        close = difflib.get_close_matches(name, list(configs), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise NewsstanceError(f"init-config: expected the name of a shipped config ({', '.join(configs)}), got {name!r}{hint}")
    out = Path(output) if output is not None else Path(f"{name}.yaml")
    if out.is_dir():
        out = out / f"{name}.yaml"
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out}: already exists; pass --overwrite to replace it, or -o another path")
    if not out.parent.is_dir():
        raise OutputExistsError(f"{out}: its folder {out.parent} does not exist; create it or pass -o another path")
    write_atomic(out, configs[name])
    return out
