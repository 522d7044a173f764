"""A sentence-transformers model exported to ONNX (fp32 or dynamic int8) and run with onnxruntime on CPU.

Used by ``retriever.embedder.Embedder(backend="onnx" | "onnx-int8")``. sentence-transformers' own ONNX
backend needs ``optimum-onnx``, which pins transformers < 4.58; so the encoder network is exported here with
``torch.onnx.export(dynamo=True)`` (dynamic batch and sequence axes), int8 weights come from onnxruntime's
``quantize_dynamic`` (per-channel: about 0.99 mean cosine to torch, against 0.92 per-tensor), and the
model's own Pooling (mean or CLS) is applied in numpy. Exports are cached by model fingerprint and written
atomically (temporary file, then ``os.replace``).

Texts are tokenized once, sorted by token length and batched by a token budget (``max_batch_tokens``
padded tokens per forward pass, at most ``batch_size`` texts): on the 2-core EPYC this runs on, int8
onnxruntime is fastest with small batches (MiniLM, ~100-token passage windows: 179 texts/s one at a time,
81/s in batches of 64; 256-token chunks: 87/s against 67/s), while tiny texts such as queries and titles
still share a pass. Passes that small leave a core idle inside onnxruntime, so a call with several batches
runs one single-threaded pass per core side by side (1.15-1.36x texts/s on 2 cores, identical vectors); a
one-batch call (a query) keeps every core on its one pass.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

POOLING = ("mean", "cls")


def export_onnx(st_model, target: Path, *, int8: bool) -> Path:
    """Export ``st_model``'s transformer to ``target`` (an .onnx file) unless it exists; returns ``target``."""
    if target.is_file():
        return target
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.with_name("model.onnx")
    if not fp32.is_file():
        _atomic(fp32, lambda tmp: _export_fp32(st_model, tmp, torch))
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        _atomic(target, lambda tmp: quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8,
                                                     per_channel=True))
    return target


def _export_fp32(st_model, out: Path, torch) -> None:
    net = st_model[0].auto_model.eval()
    names = list(st_model.tokenizer.model_input_names)

    class Encoder(torch.nn.Module):  # keyword call: transformers 5 reorders positional forward() args
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, *inputs):
            return self.net(**dict(zip(names, inputs))).last_hidden_state

    encoder = Encoder().eval()  # the wrapper is a fresh Module (training mode); export in eval mode
    sample = st_model.tokenizer(["a sample sentence for export", "another one"] * 2, padding=True,
                                return_tensors="pt")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=net.config.max_position_embeddings)
    with contextlib.redirect_stdout(sys.stderr):  # the exporter prints progress; keep stdout for --json output
        program = torch.onnx.export(encoder, tuple(sample[n] for n in names), input_names=names,
                                    output_names=["last_hidden_state"], dynamo=True, verbose=False,
                                    dynamic_shapes=(tuple({0: batch, 1: seq} for _ in names),))
    program.save(str(out))


def _atomic(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class OnnxEncoder:
    """Tokenize with the model's tokenizer, run the ONNX encoder, pool, L2-normalise."""

    def __init__(self, onnx_path: Path, st_model, *, threads: int | None = None,
                 max_batch_tokens: int = 256) -> None:
        pooling = st_model[1].get_config_dict().get("pooling_mode", "mean") if len(st_model) > 1 else "mean"
        if pooling not in POOLING:
            raise ValueError(f"ONNX backend supports pooling {', '.join(POOLING)}, model uses {pooling!r}")
        self._onnx_path = str(onnx_path)
        self.workers = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                   else os.cpu_count() or 1)
        self.session = self._session(threads)  # one pass at a time on every core: queries
        self._pass_session = None  # one core per pass, ``workers`` passes at once: document batches
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = st_model.tokenizer
        self.pooling = pooling
        self.max_seq_length = int(st_model.max_seq_length)
        self.max_batch_tokens = max_batch_tokens

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Normalised embeddings of ``texts``, in input order; texts are batched by length (and by
        token budget) so batches carry little padding, and document batches run in parallel passes."""
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)
        lengths = np.asarray([len(ids) for ids in enc["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):  # longest first: the first text of a batch sets its padded length
            n = max(1, min(batch_size, self.max_batch_tokens // max(1, int(lengths[order[start]]))))
            batches.append(order[start:start + n])
            start += n
        workers = 1 if len(batches) == 1 else self.workers
        session = self.session if workers == 1 else self._parallel_session()

        def run(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            features = self.tokenizer.pad({k: [enc[k][i] for i in idx] for k in enc.keys()}, return_tensors="np")
            return idx, self._run(session, features)

        out = np.zeros((len(texts), 0), np.float32)
        with ThreadPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
            done = pool.map(run, batches) if pool else map(run, batches)  # onnxruntime releases the GIL
            if progress:
                from tqdm.auto import tqdm

                done = tqdm(done, total=len(batches), desc="embedding", unit="batch")
            for idx, vecs in done:
                if out.shape[1] == 0:
                    out = np.zeros((len(texts), vecs.shape[1]), np.float32)
                out[idx] = vecs
        return out

    def _session(self, threads: int | None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        return ort.InferenceSession(self._onnx_path, opts, providers=["CPUExecutionProvider"])

    def _parallel_session(self):
        if self._pass_session is None:
            self._pass_session = self._session(1)
        return self._pass_session

    def _run(self, session, enc) -> np.ndarray:
        hidden = session.run(None, {n: enc[n].astype(np.int64) for n in self.inputs})[0]
        if self.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            mask = enc["attention_mask"][..., None].astype(hidden.dtype)
            vecs = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        return vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
