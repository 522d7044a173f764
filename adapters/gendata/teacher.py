"""Instruction samples from a teacher LLM (recipe `gendata.teacher`: any OpenAI-compatible server): corpus chunks
are sent with one prompt per kind - `qa` (question/answer from document and code chunks), `tcl` (task -> script,
from Tcl files and command docs) and `bugs` (bug record -> summary) - and the JSON in each reply is parsed (a list or
object, bare or in a ```json fence). Unparseable replies and items become candidates with a drop reason, never an
error: one bad reply must not end an hour of requests."""
from __future__ import annotations

import json
import re
from collections import Counter

from adapters.config import RecipeError, TeacherSection
from adapters.gendata.samples import TEACHER_KINDS, Candidate


_JSON_RULE = "Reply with only JSON, no other text."
PROMPTS = {
    "qa": ("You write training data for a chip-design engineering assistant. From the text below, write up to {n} "
           "questions an engineer might ask, each with a correct answer supported by the text alone. " + _JSON_RULE +
           " Format: a JSON list of objects with keys \"question\" and \"answer\".\n\nSOURCE: {title}\nTEXT:\n{chunk}"),
    "tcl": ("You write training data for a chip-design engineering assistant. From the text below, write up to {n} "
            "tasks an engineer could automate with a Tcl script using the commands or flow it describes, each with a "
            "complete, runnable script. " + _JSON_RULE + " Format: a JSON list of objects with keys \"task\" and "
            "\"script\".\n\nSOURCE: {title}\nTEXT:\n{chunk}"),
    "bugs": ("Summarize the bug report below for a chip-design engineer. " + _JSON_RULE + " Format: a JSON object "
             "with keys \"summary\" (one line: what is wrong and where) and \"resolution\" (status and outcome, one "
             "or two sentences).\n\nBUG:\n{chunk}"),
}
_Q_KEYS = ("question", "q", "instruction", "prompt", "task")
_A_KEYS = ("answer", "a", "response", "output", "script", "code", "summary")
_TCL_HINT = re.compile(r"```tcl|\btcl\b|\bcommand\b|^\s*-\w+", re.I | re.M)


def parse_reply(text: str) -> list | None:
    """The JSON list of items in a teacher reply (bare, in a ```json fence or after prose), or None."""
    texts = [m.group(1) for m in re.finditer(r"```(?:json|JSON)?[ \t]*\n(.*?)```", text, re.S)] + [text]
    dec = json.JSONDecoder()
    for t in texts:
        t = t.strip()
        starts = [i for i, ch in enumerate(t) if ch in "[{"][:20]
        for i in starts:
            try:
                obj, _ = dec.raw_decode(t, i)
            except ValueError:
                continue
            if isinstance(obj, list):
                return obj
            if isinstance(obj, dict):
                inner = next((obj[k] for k in ("samples", "items", "data", "pairs", "questions", "tasks")
                              if isinstance(obj.get(k), list)), None)
                return inner if inner is not None else [obj]
    return None


def _pick(item: dict, keys: tuple[str, ...]) -> tuple[str, str]:
    low = {str(k).lower(): v for k, v in item.items()}
    for k in keys:
        v = low.get(k)
        if isinstance(v, (str, int, float)) and str(v).strip():
            return k, str(v).strip()
    return "", ""


def candidates_from_reply(kind: str, reply: str, chunk: str, source: str, limit: int) -> list[Candidate]:
    """Candidates from one teacher reply; a malformed reply or item becomes one candidate with a drop reason."""
    items = parse_reply(reply)
    if items is None:
        return [Candidate(kind, "", reply[:200], source, chunk, reason="malformed_reply")]
    out = []
    for n, it in enumerate(items):
        if n >= limit:
            out.append(Candidate(kind, "", "", source, chunk, reason="over_samples_per_chunk"))
            continue
        if not isinstance(it, dict):
            out.append(Candidate(kind, "", str(it)[:200], source, chunk, reason="malformed_item"))
            continue
        if kind == "bugs":
            _, summary = _pick(it, ("summary", "answer", "title"))
            _, resolution = _pick(it, ("resolution", "status", "details"))
            qk, q = _pick(it, ("question", "instruction"))
            q = q or f"Summarize this bug report:\n\n{chunk}"
            a = summary + (f"\nResolution: {resolution}" if summary and resolution else "")
        else:
            qk, q = _pick(it, _Q_KEYS)
            _, a = _pick(it, _A_KEYS)
            if kind == "tcl" and qk == "task":
                q = f"Write a Tcl script for this task: {q}"
        if not q or not a:
            out.append(Candidate(kind, q, a, source, chunk, reason="malformed_item"))
            continue
        out.append(Candidate(kind, q, a, source, chunk))
    return out


def teacher_jobs(docs, max_jobs: int) -> list[tuple[str, str, str, str]]:
    """(kind, title, chunk text, source) per request: bugs -> bugs, Tcl -> tcl, docs/code -> qa (+ tcl for command
    docs); taken round-robin across kinds so `max_jobs` covers all three."""
    from corpora.chunking import chunk_document
    by_kind: dict[str, list] = {k: [] for k in TEACHER_KINDS}
    for d in docs:
        if d.kind == "bugs":
            by_kind["bugs"].append(("bugs", d.title, d.text[:6000], d.source))
            continue
        for ch in chunk_document(d):
            if len(ch.text.strip()) < 80:
                continue
            job = (ch.title or d.title, ch.text, ch.id)
            if d.kind == "tcl":
                by_kind["tcl"].append(("tcl", *job))
            else:
                by_kind["qa"].append(("qa", *job))
                if d.kind == "docs" and _TCL_HINT.search(ch.text):
                    by_kind["tcl"].append(("tcl", *job))
    jobs, queues = [], [list(v) for v in by_kind.values()]
    while len(jobs) < max_jobs and any(queues):
        for q in queues:
            if q and len(jobs) < max_jobs:
                jobs.append(q.pop(0))
    return jobs


def teacher_client(teacher: TeacherSection):
    """The shared OpenAI-compatible client (`corpora.llm_client`) for the recipe's teacher, key from
    ``$teacher.api_key_env``."""
    from corpora.llm_client import ChatClient

    return ChatClient(teacher.base_url, api_key_env=teacher.api_key_env, timeout_s=teacher.timeout_s)


def check_teacher(teacher: TeacherSection, client=None) -> None:
    """Fail before any generation if the teacher is unreachable, rejects the key, or does not serve the model."""
    from corpora.llm_client import LLMError

    client = client or teacher_client(teacher)
    try:
        served = [m["id"] for m in client.models(timeout_s=min(10.0, teacher.timeout_s), retries=0)]
    except LLMError as e:
        if e.kind in ("unreachable", "timeout"):
            raise RecipeError(f"gendata.teacher: cannot reach the teacher at {teacher.base_url} ({e}); start an "
                              f"OpenAI-compatible server there or fix gendata.teacher.base_url") from e
        if e.kind == "auth":
            raise RecipeError(f"gendata.teacher: {teacher.base_url} rejected the API key "
                              f"(set ${teacher.api_key_env})") from e
        return  # a server without GET /models: the first request will tell
    if served and teacher.model not in served:
        raise RecipeError(f"gendata.teacher.model: {teacher.model!r} is not served at {teacher.base_url} "
                          f"(it serves {', '.join(served)})")


def from_teacher(docs, teacher: TeacherSection, log=None) -> tuple[list[Candidate], dict]:
    """Ask the teacher for samples chunk by chunk (concurrently); returns candidates and request counts per kind."""
    from concurrent.futures import ThreadPoolExecutor
    client = teacher_client(teacher)
    check_teacher(teacher, client)
    jobs = teacher_jobs(docs, teacher.max_chunks)

    def ask(job):
        kind, title, chunk, source = job
        prompt = PROMPTS[kind].format(n=teacher.samples_per_chunk, title=title, chunk=chunk)
        try:
            reply = client.complete(teacher.model, [{"role": "user", "content": prompt}],
                                    max_tokens=teacher.max_tokens, temperature=teacher.temperature)
            return candidates_from_reply(kind, reply, chunk, source, teacher.samples_per_chunk), None
        except Exception as e:  # noqa: BLE001 - one failed request must not end the run
            return [Candidate(kind, "", "", source, chunk, reason="teacher_error")], f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=teacher.concurrency) as pool:
        results = list(pool.map(ask, jobs))
    errors = [e for _, e in results if e]
    if jobs and len(errors) == len(jobs):
        raise RecipeError(f"gendata.teacher: every request to {teacher.base_url} failed, e.g. {errors[0]}")
    requests = Counter(j[0] for j in jobs)
    if log and errors:
        log(f"gen-data: {len(errors)} of {len(jobs)} teacher requests failed, e.g. {errors[0]}")
    return [c for cands, _ in results for c in cands], {"requests": dict(requests), "failed_requests": len(errors)}
