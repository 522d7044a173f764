"""The job registry and the service over it: one shared index and one model per backend for every option
combination, reranker_path on every search path, clients built from the registry (a job registered here
appears as a CLI command and a Slack verb), and no import from `assistant` back up into `ui`."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from assistant.config import load_settings
from assistant.feedback import FeedbackStore
from assistant.jobs import Job, JobInputError, all_jobs, get, profiles, register, slack_verbs
from assistant.jobs.base import registered
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parents[2]


class EchoRequest(BaseModel):
    words: str
    times: int = 1


class EchoResult(BaseModel):
    text: str
    groups: list[str]


@pytest.fixture()
def echo_job():
    """A job registered for one test: it echoes its request and the caller's groups."""
    def from_text(text, uploads):
        if not text:
            raise JobInputError("say something to echo")
        return EchoRequest(words=text)

    job = register(Job(
        name="echo", title="Echo", description="Repeat the words.", request=EchoRequest, result=EchoResult,
        run=lambda bot, req, groups: EchoResult(text=" ".join([req.words] * req.times), groups=sorted(groups or [])),
        render_markdown=lambda r: f"echo: {r.text} for {r.groups}", render_blocks=lambda r, url: f"*echo* {r.text}",
        from_text=from_text, feedback=lambda r: {"question": "echo", "text": r.text, "acl": ["public"]},
        cli=("echo-words",), profile="Echo", slack_verb="echo"))
    yield job
    registered().pop("echo", None)


def test_builtin_jobs_are_registered():
    names = [j.name for j in all_jobs()]
    assert names[:5] == ["ask", "search", "tcl_check", "tcl_generate", "bug_summary"]
    assert list(profiles())[:3] == ["Ask", "Tcl script", "Bug summary"]
    assert {"ask", "tcl", "bug"} <= set(slack_verbs())
    with pytest.raises(KeyError, match="unknown job 'nope'"):
        get("nope")


def test_options_are_views_over_one_index_and_one_model_per_backend(sample_index_master, tmp_path):
    bot = Assistant(load_settings(None, index_dir=sample_index_master, data_dir=tmp_path))
    views = [bot.using(k=2), bot.using(rerank=False, mode="bm25"), bot.using(backend="none")]
    assert all(v.index is bot.index for v in views)  # one FAISS/BM25/ACL load, whatever the user picks
    assert views[0].settings.retrieval.k == 2 and views[1].settings.retrieval.mode == "bm25"
    sentinel = object()
    bot.llm = sentinel
    assert bot.using(k=3).llm is sentinel and views[2].llm is sentinel  # `none` is the configured backend
    hits = bot.run("search", {"query": "UART baud rate", "k": 2, "mode": "bm25"})
    assert len(hits.hits) == 2 and hits.hits[0].rank == 1
    with pytest.raises(ValueError):
        bot.run("search", {"query": "x", "mode": "fuzzy"})


def test_reranker_path_applies_to_every_search(sample_index_master, tmp_path):
    settings = load_settings(None, index_dir=sample_index_master, data_dir=tmp_path,
                             retrieval={"reranker_path": str(tmp_path / "my-cross-encoder")})
    bot = Assistant(settings)
    assert bot.index.config.reranker == tmp_path / "my-cross-encoder"
    # Q&A (not only `chipassist search`) reaches the configured cross-encoder: it fails on the missing folder
    with pytest.raises(Exception, match="my-cross-encoder"):
        bot.using(rerank=True).ask("How is the UART baud rate set?")


def test_a_registered_job_is_a_slack_verb_and_a_cli_command(echo_job, sample_index_master, tmp_path):
    from assistant.cli import job_cmds
    from assistant.slack.bot import SlackBot

    settings = load_settings(None, index_dir=sample_index_master, data_dir=tmp_path,
                             slack={"bot_token": "xoxb-test", "users": {"UTEAM": ["soc-team"]}})
    bot = Assistant(settings)
    assert bot.run("echo", {"words": "hi", "times": 2}, user_groups={"a"}).text == "hi hi"

    slack = SlackBot(bot, settings.slack, FeedbackStore(settings.feedback_db))
    mode, text, result = slack.route("echo hello there", "UTEAM")
    assert (mode, text, result.groups) == ("echo", "*echo* hello there", ["soc-team"])
    slack.log_answer(mode, result, "UTEAM", "C1", "1.1")
    assert FeedbackStore(settings.feedback_db).answer_id_for_ref("C1:1.1")
    assert slack.route("echo", "UTEAM")[0] == "help"  # the job's own usage error
    assert "/chipassist" in slack.route("help", "UTEAM")[1]

    app = typer.Typer()
    app.command("other")(lambda: None)
    job_cmds.register(app)
    res = CliRunner().invoke(app, ["echo-words", "hey", "--times", "3", "--user-groups", "x,y",
                                   "--index", str(sample_index_master)])
    assert res.exit_code == 0 and "echo: hey hey hey for ['x', 'y']" in res.stdout, res.output
    res = CliRunner().invoke(app, ["echo-words", "hey", "--times", "zero", "--index", str(sample_index_master)])
    assert res.exit_code == 2


def test_assistant_never_imports_ui():
    """Layers run one way: the chat page imports the service, never the reverse (`chipassist ui` starts
    ui/launch.py by file path)."""
    offenders = []
    for path in (ROOT / "assistant").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n == "ui" or n.startswith("ui.")]
    assert not offenders, offenders
