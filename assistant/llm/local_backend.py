"""The `local` backend: a transformers causal-LM folder (plus an optional PEFT adapter) run in-process.

    llm = LocalBackend(LLMConfig(backend="local", model_path="models/chipnemo-sft", adapter_path="adapters/lora"))
    llm.complete([{"role": "user", "content": "What does the CRU do?"}])
    for piece in llm.stream(messages): print(piece, end="")

The tokenizer's chat template is used when it has one (with control tokens in the messages encoded as plain
text, so a question cannot forge a role marker or end-of-turn); otherwise a plain "System:/User:/Assistant:"
template. Streaming runs `generate` in a worker thread feeding a TextIteratorStreamer; closing the stream early
stops generation. One generation at a time per model (a lock), as CPU inference gains nothing from overlap.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.config import LLMConfig
from assistant.llm.base import Message
from assistant.llm.errors import LLMError

FALLBACK_ROLES = {"system": "System", "user": "User", "assistant": "Assistant"}


@contextmanager
def _quiet_loading():
    """No weight-loading progress bar: it would land in the middle of a CLI answer or a server log."""
    from transformers.utils import logging

    was_enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging.enable_progress_bar()


def _require_folder(path: Path | None, field: str) -> Path:
    if path is None or not Path(path).is_dir():
        raise ValueError(f"llm.{field}: {path} is not a folder (expected a transformers/PEFT save_pretrained folder)")
    return Path(path)


class LocalBackend:
    """The ``local`` backend: a transformers causal LM (plus an optional PEFT adapter) run in this process.

    One generation at a time (a lock); ``stream`` runs generate in a thread and stops it when the reader
    does."""

    name = "local"

    def __init__(self, config: LLMConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        model_path = _require_folder(config.model_path, "model_path")
        try:
            with _quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(model_path)
                model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise ValueError(f"llm.model_path: cannot load a causal LM from {model_path}: {e}") from e
        self.model = f"{model_path.name}+{config.adapter_path.name}" if config.adapter_path else model_path.name
        if config.adapter_path is not None:
            from peft import PeftModel

            adapter = _require_folder(config.adapter_path, "adapter_path")
            try:
                model = PeftModel.from_pretrained(model, adapter)
            except (OSError, ValueError, KeyError) as e:
                raise ValueError(f"llm.adapter_path: cannot load a PEFT adapter from {adapter}: {e}") from e
        self._model = model.to(config.device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        max_positions = getattr(self._model.config, "max_position_embeddings", None) or config.context_tokens
        self.context_tokens = min(config.context_tokens, max_positions)
        self._lock = threading.Lock()

    # -- the LLM protocol -------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes with the model's tokenizer (no special tokens), for prompt budgeting."""
        return len(self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    def complete(self, messages: list[Message], *, max_tokens: int | None = None,
                 temperature: float | None = None, stop: list[str] | None = None, seed: int | None = None) -> str:
        """The whole reply to ``messages`` (``stream`` joined)."""
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop, seed=seed))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None, stop: list[str] | None = None,
               seed: int | None = None) -> Iterator[str]:
        """The reply to ``messages`` piece by piece; generation stops when the caller stops reading, and an
        error in the generating thread is raised here, not lost."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        kwargs = self._generate_kwargs(messages, max_tokens, temperature, stop, seed)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=self.config.timeout_s)
        cancelled = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            with self._lock:
                try:
                    self._model.generate(**kwargs, streamer=streamer,
                                         stopping_criteria=StoppingCriteriaList([_Cancel(cancelled)]))
                except BaseException as e:  # surfaced to the consumer below, never lost in the thread
                    errors.append(e)
                    streamer.end()

        worker = threading.Thread(target=run, name="local-llm-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except Exception as e:  # queue.Empty on timeout
            raise LLMError(f"local model {self.model}: no output for {self.config.timeout_s:.0f} s") from e
        finally:
            cancelled.set()  # the consumer stopped (or finished): let generate return
            worker.join(timeout=self.config.timeout_s)
        if errors:
            raise LLMError(f"local model {self.model} failed: {errors[0]}") from errors[0]

    # -- helpers ----------------------------------------------------------------------------------
    def _encode(self, messages: list[Message]) -> list[int]:
        tok = self.tokenizer
        if tok.chat_template:
            from jinja2 import TemplateError

            try:
                return self._apply_template(messages)
            except TemplateError:
                # Some templates (Mistral, Gemma) reject a system role: fold it into the first user turn.
                return self._apply_template(_fold_system(messages))
        text = "".join(f"{FALLBACK_ROLES.get(m['role'], m['role'].title())}: {m['content']}\n\n" for m in messages)
        ids = tok(text + "Assistant:", add_special_tokens=False, split_special_tokens=True)["input_ids"]
        return ([tok.bos_token_id] if tok.bos_token_id is not None else []) + ids

    def _apply_template(self, messages: list[Message]) -> list[int]:
        enc = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True, sanitize_control_tokens=True)
        return list(enc["input_ids"])

    def _generate_kwargs(self, messages: list[Message], max_tokens: int | None, temperature: float | None,
                         stop: list[str] | None, seed: int | None = None) -> dict:
        import torch

        ids = self._encode(messages)
        max_new = max_tokens or self.config.max_new_tokens
        if len(ids) + max_new > self.context_tokens:
            raise LLMError(f"local model {self.model}: prompt of {len(ids)} tokens + {max_new} new tokens "
                           f"exceeds its context of {self.context_tokens} tokens")
        temperature = self.config.temperature if temperature is None else temperature
        input_ids = torch.tensor([ids], device=self.config.device)
        kwargs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_new,
                      pad_token_id=self.tokenizer.pad_token_id, do_sample=temperature > 0)
        if temperature > 0:
            kwargs["temperature"] = temperature
            torch.manual_seed(0 if seed is None else seed)  # the sample repeats for a seed, like llama.cpp's
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
        return kwargs


def _fold_system(messages: list[Message]) -> list[Message]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    return rest


class _Cancel:
    """A stopping criterion that ends generation once the stream's consumer has gone away."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)
