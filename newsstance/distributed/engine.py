"""The driver of the Ray engine: list the files, cut them into chunks, run each chunk on an actor
pool (actors.py) and commit its Parquet files; the output folder's checks and --resume.
The layout of the output is described in the package's docstring."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from newsstance.defaults import ARTICLE_SUFFIXES, BATCH_SIZE
from newsstance.distributed import actors
from newsstance.distributed.support import is_uri, require_ray
from newsstance.errors import NewsstanceError
from newsstance.files import write_json_atomic
from newsstance.prediction.journal import OutputLock, pid_file

CHUNK_FILES = 1000  # files per committed chunk
FILES_PER_TASK = 8  # files an actor takes at once
CONNECT_TIMEOUT = 10.0  # seconds to wait for a cluster's port to answer (per address the host resolves to)
SUBDIRS = ("sentences", "summary", "errors", "chunks")
RUN_RECORD = "run.json"
LOCK = ".newsstance.lock"


@dataclass
class RayOptions:
    paths: list[str]
    output: str  # a local folder
    model: str | None = None
    address: str | None = None  # None: a local Ray instance; "auto" or ray://HOST:PORT: a cluster
    workers: int = 1
    batch_size: int = BATCH_SIZE
    threads: int | None = None  # torch threads per actor (and the CPUs it reserves); default 1
    device: str = "cpu"
    dtype: str = "auto"
    min_confidence: float | None = None
    fields: object = None
    max_bytes: int | None = None
    resume: bool = False
    overwrite: bool = False
    chunk_files: int = CHUNK_FILES


# --- listing ----------------------------------------------------------------------------


def list_files(paths: list[str], output: Path) -> tuple[list[str], int]:
    """(files, skipped unsupported) under the inputs; URIs through pyarrow's filesystems."""
    from newsstance.prediction.inputs import InputError, inventory

    local = [p for p in paths if not is_uri(p)]
    files, skipped = [], 0
    if local:
        try:
            found = inventory(local, exclude=[output])
        except InputError as exc:
            raise NewsstanceError(str(exc)) from None
        files += [str(f) for f in found.files]
        skipped += len(found.unsupported)
    for uri in (p for p in paths if is_uri(p)):
        import pyarrow.fs as pafs

        try:
            fs, root = pafs.FileSystem.from_uri(uri)
            info = fs.get_file_info(root)
            if info.type == pafs.FileType.NotFound:
                raise NewsstanceError(f"{uri}: not found")
            infos = [info] if info.type == pafs.FileType.File else fs.get_file_info(pafs.FileSelector(root, recursive=True))
        except (OSError, ValueError, TypeError) as exc:  # pyarrow raises these for bad URIs and missing credentials
            raise NewsstanceError(f"{uri}: cannot list it ({exc})") from None
        scheme = uri.split("://", 1)[0]
        for item in sorted(infos, key=lambda i: i.path):
            if item.type != pafs.FileType.File:
                continue
            if Path(item.path).suffix.lower() in ARTICLE_SUFFIXES:
                files.append(f"{scheme}://{item.path}")
            else:
                skipped += 1
    return files, skipped


# --- the driver -------------------------------------------------------------------------


def _check_address(address: str) -> None:
    """Fail in seconds where Ray would wait minutes: a HOST:PORT (or ray://HOST:PORT) where nothing
    listens. Other forms (auto, local, another client scheme) go to ray.init as they are."""
    scheme, has_scheme, rest = address.partition("://")
    if address in ("auto", "local") or (has_scheme and scheme != "ray"):
        return
    host, sep, port = (rest if has_scheme else address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NewsstanceError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT (a port from 1 "
                              "to 65535)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise NewsstanceError(f"--address {address}: nothing answers at {host}:{port} ({exc.strerror or exc}); start "
                              "the cluster (`ray start --head`) or check the address: auto on a cluster node, "
                              "ray://HEAD:10001 for Ray Client, HEAD:6379 for the head's GCS") from None


def _connect(options: RayOptions):
    ray = require_ray()
    if ray.is_initialized():
        return ray
    try:
        if options.address:
            ray.init(address=options.address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, options.workers * (options.threads or 1)),
                     include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise NewsstanceError(f"cannot reach the Ray cluster at {options.address!r} ({exc}); start it with "
                              "`ray start --head` or check the address (auto, or ray://HOST:10001)") from None
    return ray


def _identity(options: RayOptions) -> dict:
    from newsstance.prediction.classifier import resolve_model_dir
    from newsstance.prediction.journal import model_fingerprint

    folder = resolve_model_dir(options.model)
    return {"engine": "ray", "model": str(folder.resolve()), "model_sha256": model_fingerprint(folder),
            "inputs": [p if is_uri(p) else str(Path(p).resolve()) for p in options.paths],
            "min_confidence": options.min_confidence}


def _prepare_output(out: Path, identity: dict, options: RayOptions) -> set[str]:
    """Check the folder against the run; returns the files committed chunks already hold."""
    record = out / RUN_RECORD
    existing = _holds_anything(out)
    if existing and not record.is_file():
        raise NewsstanceError(f"{out}: exists and is not a newsstance Ray output (no {RUN_RECORD}); choose a new "
                              "folder: nothing in it is replaced")
    if existing and not options.resume:
        if not options.overwrite:
            raise NewsstanceError(f"{out}: holds a run already; pass --resume to continue it or --overwrite to replace it")
        _remove_run(out)
    if options.resume and record.is_file():
        before = json.loads(record.read_text(encoding="utf-8"))
        changed = [k for k in ("model", "model_sha256", "inputs", "min_confidence") if before.get(k) != identity.get(k)]
        if changed:
            raise NewsstanceError(f"{out}: holds a different run ({', '.join(changed)} changed); use a new folder, "
                                  "or --overwrite to replace it")
    for name in SUBDIRS:
        (out / name).mkdir(parents=True, exist_ok=True)
    if not record.is_file():
        write_json_atomic(record, identity)
    done = set()
    committed = set()
    for chunk in sorted((out / "chunks").glob("chunk-*.json")):
        committed.add(chunk.stem)
        done.update(json.loads(chunk.read_text(encoding="utf-8"))["files"])
    # files of a chunk without a record: a run stopped while writing it; its articles run again
    for name in ("sentences", "summary", "errors"):
        for stale in (out / name).glob("chunk-*"):
            if stale.name[:len("chunk-00000")] not in committed:
                stale.unlink()
    shutil.rmtree(out / ".staging", ignore_errors=True)
    return done


def _holds_anything(out: Path) -> bool:
    """Whether `out` holds more than the lock and a staging folder that Ray workers may still have
    been writing into when a run was stopped (removed before the next run writes)."""
    ignorable = {LOCK, pid_file(out / LOCK).name, ".staging"}
    return any(p.name not in ignorable for p in out.iterdir())


def _remove_run(out: Path) -> None:
    """Remove what a Ray run writes into `out`, and only that."""
    for name in (*SUBDIRS, ".staging", RUN_RECORD):
        target = out / name
        shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)


def _write_table(rows: list[dict], path: Path, columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from newsstance.files import atomic_path

    table = pa.Table.from_pylist(rows) if rows else pa.table({c: pa.array([], pa.string()) for c in columns})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def run_ray_predict(options: RayOptions, progress=print) -> dict:
    """Label every article under `options.paths` on Ray; returns the counts."""
    out = Path(options.output)
    if is_uri(options.output):
        raise NewsstanceError(f"-o {options.output}: the Ray engine writes to a local or mounted folder; give a path")
    if out.exists() and not out.is_dir():
        raise NewsstanceError(f"-o {out}: is a file; --engine ray writes a folder of Parquet files")
    if options.workers < 1:
        raise NewsstanceError(f"--workers: expected a whole number >= 1, got {options.workers}")
    if options.address:
        _check_address(options.address)  # before anything is written
    identity = _identity(options)
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with OutputLock(out / LOCK, out):
            fresh = not _holds_anything(out)
            try:
                return _run(options, out, _prepare_output(out, identity, options), progress)
            except BaseException:
                if fresh and not any((out / "chunks").glob("chunk-*.json")):
                    _remove_run(out)  # failed (cannot connect, Ctrl-C) before a commit: leave the folder as it was
                raise
    except BaseException:
        with contextlib.suppress(OSError):  # never hide the error that got us here
            if not existed and not any(out.iterdir()):
                out.rmdir()  # and a folder this run created, empty again, goes too (after the lock has)
        raise


def _run(options: RayOptions, out: Path, done: set[str], progress) -> dict:
    files, skipped = list_files(options.paths, out)
    todo = [f for f in files if f not in done]
    counts = {"files": len(files), "resumed_files": len(files) - len(todo), "skipped_unsupported": skipped,
              "articles": 0, "sentences": 0, "errors": 0}
    if not todo:
        return counts
    ray = _connect(options)
    if str(options.device).startswith("cuda") and ray.cluster_resources().get("GPU", 0) < 1:
        raise NewsstanceError(f"--device {options.device}: the Ray cluster has no GPU; use --device cpu, or add GPU "
                              "nodes to the cluster")
    started = time.time()
    first = len(list((out / "chunks").glob("chunk-*.json")))
    for i in range(0, len(todo), options.chunk_files):
        number = first + i // options.chunk_files + 1
        chunk_counts = _run_chunk(ray, options, todo[i:i + options.chunk_files], out, number)
        for key in ("articles", "sentences", "errors"):
            counts[key] += chunk_counts[key]
        elapsed = time.time() - started
        progress(f"chunk {number}: {counts['articles']:,} articles, {counts['sentences']:,} sentences "
                 f"({counts['sentences'] / max(elapsed, 1e-9):.0f} sentences/s)")
    return counts


def _run_chunk(ray, options: RayOptions, files: list[str], out: Path, number: int) -> dict:
    name = f"chunk-{number:05d}"
    threads = options.threads or 1
    gpus = 1 if str(options.device).startswith("cuda") else 0
    results = ray.data.from_items([{"path": f} for f in files]).map_batches(
        actors.ArticleLabeller, batch_size=FILES_PER_TASK, compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=threads, num_gpus=gpus,  # Ray Data restarts an actor that died and retries its task
        fn_constructor_kwargs={"model": options.model, "device": options.device, "dtype": options.dtype,
                               "batch_size": options.batch_size, "min_confidence": options.min_confidence,
                               "fields": options.fields, "max_bytes": options.max_bytes, "threads": threads},
    ).materialize()
    staging = out / ".staging" / name
    sentences = results.flat_map(actors.explode)
    n_sentences = sentences.count()
    if n_sentences:
        sentences.write_parquet(str(staging))
    summaries, errors = [], []
    for row in results.iter_rows():
        summaries += json.loads(row["summaries"])
        errors += json.loads(row["errors"])
    if n_sentences:
        for k, part in enumerate(sorted(staging.glob("*.parquet"))):
            os.replace(part, out / "sentences" / f"{name}-{k:05d}.parquet")
    shutil.rmtree(staging, ignore_errors=True)
    _write_table(summaries, out / "summary" / f"{name}.parquet", ["article_id", "path"])
    _write_table(errors, out / "errors" / f"{name}.parquet", ["path", "line", "reason"])
    counts = {"articles": len(summaries), "sentences": n_sentences, "errors": len(errors)}
    write_json_atomic(out / "chunks" / f"{name}.json", {"files": files, **counts})  # the commit
    return counts
