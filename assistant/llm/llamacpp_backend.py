"""The `llamacpp` backend: a GGUF model run in-process by llama.cpp (llama-cpp-python), on CPU.

    llm = LlamaCppBackend(LLMConfig(backend="llamacpp"))            # the embedded qwen2.5-coder-1.5b
    llm = LlamaCppBackend(LLMConfig(backend="llamacpp", model_path="models/my.gguf", context_tokens=8192))
    for piece in llm.stream([{"role": "user", "content": "What does `synth -flatten` do?"}]): print(piece, end="")

The chat template is the one stored in the GGUF file (llama-cpp-python renders it with Jinja), and stop
tokens come from the same file, so a model behaves as its authors trained it. Special-token text inside a
message (``<|im_start|>system`` pasted into a question or hidden in a document) is broken up before it reaches
the template, so nobody can forge a role turn. The model is loaded once per process and shared by every
`Assistant` (CLI, Chainlit UI, Slack bot and REST API in one process all use one copy); one generation runs
at a time per model, since CPU inference gains nothing from overlap. Closing a stream early stops decoding.
Every failure is raised as LLMError naming the model, so `assistant.qa` falls back to retrieval-only.

Constant system prompts are processed once: :meth:`LlamaCppBackend.warm` evaluates each (the Q&A and Tcl
ones, at load) and keeps llama.cpp's state for it; a prompt whose system message is a warmed one and that the
context does not already start with gets that state back, so llama.cpp evaluates only the tokens after it
(llama-cpp-python keeps the longest common prefix of the context and the new prompt). A question after a
Tcl script, or the first question of all, then pays only for its sources and question.
"""
from __future__ import annotations

import ctypes
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import LLMConfig
from assistant.llm.base import Message
from assistant.llm.errors import LLMError



@dataclass
class _Prefix:
    """llama.cpp's state after evaluating one system prompt: the tokens and the context's state bytes."""

    ids: list[int]
    state: bytes


@dataclass
class Loaded:
    """One loaded model, shared by every backend of the process: the model, its generation lock, the warmed
    system prompts' states (by system text) and the system text the context holds now."""

    model: object
    lock: threading.Lock = field(default_factory=threading.Lock)
    prefixes: dict[str, _Prefix] = field(default_factory=dict)
    system: str | None = None


_LOADED: dict[tuple[str, int, int], Loaded] = {}
_LOADING = threading.Lock()
# The prompt batch (tokens per llama.cpp call): 256 and 512 (n_batch = n_ubatch), with or without flash
# attention, all gave the same ~57 prompt tokens/s on 2 cores (bench/llm_speed.py, 770-token prompt); the
# smaller batch keeps llama-cpp-python's logits buffer (n_batch x vocabulary floats) at half the size.
N_BATCH = 256
# Control tokens of the common chat templates (ChatML <|im_start|>, Llama 3 <|eot_id|>, <s>, [INST]):
# a zero-width space inside keeps the text readable but makes it tokenise as plain words.
_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]{1,40}\|>|</?s>|\[/?INST\]|<<\/?SYS>>")


def defuse(text: str) -> str:
    """``text`` with anything that looks like a chat-template control token broken up."""
    return _SPECIAL.sub(lambda m: m.group(0)[:2] + "\u200b" + m.group(0)[2:], text)


def physical_cores() -> int:
    """Threads for decoding: one per physical core (hyper-threads slow llama.cpp down)."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:  # psutil is a dependency; this only guards odd installs
        return max(1, os.cpu_count() or 1)


def load_gguf(path: Path, context_tokens: int, threads: int = 0) -> Loaded:
    """The llama.cpp model for ``path`` (loaded once per process), its generation lock and prefix states."""
    # llama.cpp's threads meet at OpenMP barriers, which spin by default: when another job holds a core, a
    # spinning thread waits on one that is not running, and decoding fell from ~30 to 1-5 tokens/s on a busy
    # 2-core machine (bench/llm_speed.py). Passive waiting costs little when idle. Read when libgomp loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from llama_cpp import Llama
    except ImportError as e:
        raise LLMError("llm.backend 'llamacpp' needs llama-cpp-python: run `make llm` "
                       "(or `pip install llama-cpp-python`; it compiles llama.cpp, ~10 CPU-minutes)") from e
    threads = threads or physical_cores()
    key = (str(Path(path).resolve()), context_tokens, threads)
    with _LOADING:
        if key not in _LOADED:
            try:
                model = Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads,
                              n_threads_batch=threads, n_batch=N_BATCH, verbose=False)
            except (ValueError, RuntimeError, OSError) as e:
                raise LLMError(f"llama.cpp cannot load {path}: {e}") from e
            _LOADED[key] = Loaded(model)
        return _LOADED[key]


def evaluated_tokens(model) -> int:
    """Tokens llama.cpp has evaluated in ``model``'s context so far (prompt batches and single tokens)."""
    import llama_cpp

    perf = llama_cpp.llama_perf_context(model._ctx.ctx)
    return int(perf.n_p_eval) + int(perf.n_eval)


def _save(model) -> _Prefix:
    """The context's tokens and state. Not ``Llama.save_state``: that also copies n_batch x vocabulary
    floats of logits (115 MB for Qwen2.5), and restoring them took 0.6 s; the prompt's suffix is always
    evaluated after a restore, which writes fresh logits, so only the KV state is needed."""
    import llama_cpp

    ctx = model._ctx.ctx
    size = llama_cpp.llama_state_get_size(ctx)
    buf = (ctypes.c_uint8 * size)()
    n = llama_cpp.llama_state_get_data(ctx, buf, size)
    return _Prefix(ids=list(model.input_ids[:model.n_tokens]), state=bytes(buf)[:n])


def _restore(model, prefix: _Prefix) -> None:
    """Put ``prefix``'s state back into the context (what ``Llama.load_state`` does, without the logits)."""
    import llama_cpp

    buf = (ctypes.c_uint8 * len(prefix.state)).from_buffer_copy(prefix.state)
    if llama_cpp.llama_state_set_data(model._ctx.ctx, buf, len(prefix.state)) != len(prefix.state):
        raise RuntimeError("llama.cpp refused the saved prompt state")
    model.input_ids[:len(prefix.ids)] = prefix.ids
    model.n_tokens = len(prefix.ids)
    model._requires_eval = True  # restored logits are stale: never sample before evaluating a token


class LlamaCppBackend:
    """The LLM protocol over an in-process llama.cpp model."""

    name = "llamacpp"
    # The first token's wait is the prompt tokens llama.cpp evaluates: ~50/s for the 1.5B model on 2 idle cores.
    # With the system prompt warmed (~200 tokens), 600 leaves ~390 to evaluate, ~7.8 s; 650 left ~430 (8.6 s
    # measured), 800 ~590. bench/prompt_budget.py shows what each budget keeps of the evidence.
    default_prompt_tokens = 600
    # Tcl generation's prompt (commands, worked examples, the design) has its own budget, the one it was measured at.
    default_tcl_prompt_tokens = 1040

    def __init__(self, config: LLMConfig) -> None:
        from assistant.llm.models import ModelMissing, resolve_model

        self.config = config
        try:
            self.path = resolve_model(config.model_path)
        except ModelMissing as e:
            raise LLMError(str(e)) from e
        self._shared = load_gguf(self.path, config.context_tokens, config.threads)
        self._llm, self._lock = self._shared.model, self._shared.lock
        meta = getattr(self._llm, "metadata", {}) or {}
        self.model = meta.get("general.name") or self.path.stem
        trained = int(meta.get(f"{meta.get('general.architecture', '')}.context_length", 0) or 0)
        self.context_tokens = min(config.context_tokens, trained) if trained else config.context_tokens

    # -- the LLM protocol -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes with the GGUF model's tokenizer (no BOS), for prompt budgeting."""
        return len(self._llm.tokenize(text.encode("utf-8", errors="replace"), add_bos=False, special=False))

    def complete(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None, seed: int | None = None) -> str:
        """The whole reply to ``messages`` (``stream`` joined)."""
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop, seed=seed))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply to ``messages`` piece by piece from llama.cpp, one request at a time (a lock);
        llama.cpp's errors are raised as LLMError naming the model."""
        request = self._request(messages, max_tokens, temperature, stop, seed)
        with self._lock:
            try:
                self._reuse_prefix(request["messages"])
                chunks = self._llm.create_chat_completion(**request, stream=True)
            except (ValueError, RuntimeError) as e:  # e.g. a prompt longer than the context
                raise LLMError(f"llama.cpp ({self.model}): {e}") from e
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0] if chunk.get("choices") else {}
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        yield piece
            except (ValueError, RuntimeError) as e:
                raise LLMError(f"llama.cpp ({self.model}) failed while generating: {e}") from e
            finally:
                chunks.close()  # an early close by the consumer stops decoding here

    def warm(self, system_prompts: Iterable[str], *, background: bool = False) -> threading.Thread | None:
        """Evaluate each system prompt once and keep llama.cpp's state for it, so later prompts that start
        with it skip those tokens. With ``background``, in a daemon thread (returned); a question asked
        meanwhile waits for the model lock and then finds the state ready."""
        todo = [defuse(s) for s in dict.fromkeys(system_prompts) if defuse(s) not in self._shared.prefixes]
        if background:
            thread = threading.Thread(target=self._warm, args=(todo,), name="llamacpp-warm", daemon=True)
            thread.start()
            return thread
        self._warm(todo)
        return None

    def forget_prefixes(self) -> None:
        """Drop the warmed states and the context (benchmarks measure a cold prompt this way)."""
        with self._lock:
            self._shared.prefixes.clear()
            self._shared.system = None
            self._llm.reset()

    def _warm(self, systems: list[str]) -> None:
        with self._lock:
            for system in systems:
                if system in self._shared.prefixes:
                    continue
                # The user turn is empty: the state then holds the system turn and the user turn's header,
                # which every real prompt with this system message starts with.
                try:
                    self._llm.create_chat_completion(
                        messages=[{"role": "system", "content": system}, {"role": "user", "content": ""}],
                        max_tokens=1, temperature=0.0, seed=0)
                except (ValueError, RuntimeError):  # a system prompt longer than the context: no state kept
                    continue
                self._shared.prefixes[system] = _save(self._llm)
                self._shared.system = system

    def _reuse_prefix(self, messages: list[Message]) -> None:
        """Before a prompt: restore its warmed system prompt's state unless the context holds it already.
        Called with the lock held."""
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
        prefix = self._shared.prefixes.get(system) if system is not None else None
        if prefix is not None and (self._shared.system != system or self._llm.n_tokens == 0):
            _restore(self._llm, prefix)
        self._shared.system = system

    # -- helpers ----------------------------------------------------------------------------------
    def _request(self, messages: list[Message], max_tokens: int | None, temperature: float | None,
                 stop: list[str] | None, seed: int | None = None) -> dict:
        cleaned = [{"role": m["role"], "content": defuse(m["content"])} for m in messages]
        prompt_tokens = sum(self.count_tokens(m["content"]) + 8 for m in cleaned)
        room = self.context_tokens - prompt_tokens
        if room < 16:
            raise LLMError(f"llama.cpp ({self.model}): the prompt (~{prompt_tokens} tokens) does not fit the "
                           f"model's {self.context_tokens}-token context")
        wanted = max_tokens or self.config.max_new_tokens
        request = dict(messages=cleaned, max_tokens=min(wanted, room),
                       temperature=self.config.temperature if temperature is None else temperature,
                       seed=0 if seed is None else seed)
        if stop:
            request["stop"] = stop
        return request
