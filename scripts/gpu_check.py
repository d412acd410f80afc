"""The GPU paths, run for real on a machine with a CUDA GPU (the tests only patch availability).

    python scripts/gpu_check.py prepare [DIR]                                # here, with a network
    python scripts/gpu_check.py run --out OUT [--tokenizer DIR] [--device cuda]  # on the GPU machine

`prepare` writes what a GPU machine that cannot download needs (default folder .gpu_check/,
which git ignores): wheels of the dependencies a CUDA image with PyTorch and transformers
usually lacks, for its Python (--python-version, default 3.12), and the packaged MiniLM's
tokenizer. There: `pip install --no-index --find-links .gpu_check/wheels datasets evaluate
pydantic pysbd trafilatura lxml_html_clean`, then `run` from the repository root with
PYTHONPATH=. (or newsstance installed). `run`:

1. trains configs/smoke.yaml (a tiny random BERT) on the GPU with `training.precision: auto`
   and reads back the device and precision the run recorded;
2. predicts `data/corpus/articles.jsonl` with `newsstance predict` on the CPU (float32) and on
   the GPU (float32, and the --dtype auto half precision) and compares the sentence rows: same
   sentences and offsets, label agreement, the largest probability difference;
3. trains the same config under `torchrun --nproc_per_node=1` (DDP over NCCL) and checks that
   one report was written;
4. with Ray installed, `predict --engine ray --device cuda` on the same articles, compared with
   the local engine on the GPU.

Prints what it measured and ends non-zero if a step failed or float32 on the GPU disagrees with
float32 on the CPU (the same weights, the same arithmetic up to rounding). --tokenizer: a
folder with the base model's tokenizer, for a machine without the packaged MiniLM (the smoke
config uses only its tokenizer). --device cpu rehearses every step on the CPU, to try the
script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "corpus" / "articles.jsonl"
# newsstance's dependencies (and theirs) that a CUDA image with torch, transformers, pandas,
# pyarrow, scikit-learn, matplotlib and accelerate lacks; the rest of a full resolve is dropped
# so that the folder stays small enough to carry (about 18 MB)
MISSING = {"annotated-types", "babel", "courlan", "datasets", "dateparser", "dill", "evaluate", "htmldate", "httpcore2",
           "httpx2", "justext", "lxml-html-clean", "multiprocess", "pydantic", "pydantic-core", "pysbd", "pytz", "tld",
           "trafilatura", "truststore", "typing-inspection", "tzdata", "tzlocal"}
REQUIREMENTS = ["datasets>=3.0", "evaluate>=0.4.3", "pydantic>=2.6", "pysbd>=0.3.4", "trafilatura>=1.12",
                "lxml_html_clean>=0.4"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "config.json")


def newsstance(*args: str, torchrun: bool = False, env: dict | None = None) -> None:
    import os

    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"] if torchrun
                else [sys.executable])
    command = [*launcher, "-m", "newsstance", *args]
    print("$", " ".join(command), flush=True)
    started = time.time()
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, **(env or {})})
    print(f"  ({time.time() - started:.1f} s)", flush=True)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def compare(name: str, a: list[dict], b: list[dict]) -> float:
    """Label agreement of two predict runs over the same sentences; prints the numbers."""
    key = lambda r: (r["article_id"], r["sentence_index"])  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    if not a:
        raise SystemExit(f"{name}: the runs wrote no sentence rows")
    if [(key(r), r["start"], r["end"]) for r in a] != [(key(r), r["start"], r["end"]) for r in b]:
        raise SystemExit(f"{name}: the two runs hold different sentences or offsets")
    same = sum(x["label"] == y["label"] for x, y in zip(a, b)) / len(a)
    drift = max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in x if k.startswith("p_"))
    print(f"{name}: {len(a)} sentences, label agreement {same:.4f}, largest probability difference {drift:.2e}")
    return same


def prepare(folder: Path, python_version: str) -> None:
    import re
    import shutil
    import tempfile

    from newsstance.models.base import resolve_name_or_path

    wheels, tokenizer = folder / "wheels", folder / "tokenizer"
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", tmp, "--python-version", python_version,
                        "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--platform",
                        "manylinux_2_17_x86_64", "--platform", "manylinux_2_28_x86_64", *REQUIREMENTS], check=True)
        for wheel in Path(tmp).glob("*.whl"):
            if re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower() in MISSING:
                shutil.copy2(wheel, wheels / wheel.name)
    source = Path(resolve_name_or_path("packaged:all-MiniLM-L6-v2"))
    tokenizer.mkdir(exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, tokenizer / name)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"{folder}: {len(list(wheels.glob('*.whl')))} wheels and the tokenizer, {size / 1e6:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("prepare", help="wheels and tokenizer for a machine that cannot download")
    p.add_argument("folder", nargs="?", default=".gpu_check")
    p.add_argument("--python-version", default="3.12", help="the GPU machine's Python (default: 3.12)")
    p = sub.add_parser("run", help="the checks, on the GPU machine")
    p.add_argument("--out", required=True, help="folder for the runs and predictions (new)")
    p.add_argument("--tokenizer", help="tokenizer folder to use instead of the packaged MiniLM")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu to rehearse (default: cuda)")
    args = parser.parse_args()
    if args.action == "prepare":
        prepare(Path(args.folder), args.python_version)
        return 0
    import torch

    gpu = args.device.startswith("cuda")
    if gpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run this on a machine with one (or rehearse with --device cpu)")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=False)
    print(f"torch {torch.__version__}, " + (f"{torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}"
                                             if gpu else "rehearsal on the CPU"))
    device_env = {} if gpu else {"ACCELERATE_USE_CPU": "1"}  # training picks its device itself
    base = [f"--set=model.name_or_path={Path(args.tokenizer).resolve()}"] if args.tokenizer else []

    # 1. training on the GPU
    model = out / "smoke"
    newsstance("train", "configs/smoke.yaml", f"--set=output.dir={model}", "--set=training.precision=auto", *base,
               env=device_env)
    env = json.loads((model / "environment.json").read_text())
    print(f"trained on {env['device']} in {env['precision']}; headline {json.loads((model / 'metrics.json').read_text())['headline']}")
    if gpu and not str(env["device"]).startswith("cuda"):
        raise SystemExit(f"training ran on {env['device']}, not on the GPU")

    # 2. the same model on the CPU and the GPU
    runs = {}
    for name, device, dtype in (("cpu", "cpu", "float32"), ("cuda-fp32", args.device, "float32"),
                                ("cuda-auto", args.device, "auto")):
        runs[name] = out / f"{name}.jsonl"
        newsstance("predict", str(ARTICLES), "-o", str(runs[name]), "--model", str(model), "--device", device, "--dtype", dtype)
    fp32 = compare("GPU float32 vs CPU float32", rows(runs["cpu"]), rows(runs["cuda-fp32"]))
    compare("GPU --dtype auto vs CPU float32", rows(runs["cpu"]), rows(runs["cuda-auto"]))

    # 3. torchrun: DDP over NCCL, one process
    ddp = out / "smoke-torchrun"
    newsstance("train", "configs/smoke.yaml", f"--set=output.dir={ddp}", "--set=training.precision=auto", *base,
               torchrun=True, env=device_env)
    reports = sorted(str(p.relative_to(ddp)) for p in ddp.rglob("report.md"))
    ddp_env = json.loads((ddp / "environment.json").read_text())
    print(f"torchrun: world size {ddp_env['world_size']}, {ddp_env['device']}, {ddp_env['precision']}, reports {reports}")
    if reports != ["evaluation/report.md"] or ddp_env["world_size"] != 1 or ddp_env["device"] != env["device"]:
        raise SystemExit("torchrun: expected one report, world size 1 and the single process's device")

    # 4. Ray on the GPU
    try:
        import ray  # noqa: F401
    except ImportError:
        print("ray: not installed, step 4 skipped")
    else:
        folder = out / "ray"
        newsstance("predict", str(ARTICLES), "-o", str(folder), "--model", str(model), "--engine", "ray",
                   "--device", args.device, "--dtype", "float32")
        import pyarrow.parquet as pq

        compare("Ray on the GPU vs local on the GPU", pq.read_table(folder / "sentences").to_pylist(),
                rows(runs["cuda-fp32"]))
    if fp32 < 0.999:
        raise SystemExit(f"float32 on the GPU agrees with the CPU on only {fp32:.4f} of the labels")
    print("GPU check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
