"""`chipassist mcp`: every registered job (`assistant.jobs.all_jobs`) as an MCP tool, with the official `mcp`
SDK (FastMCP).

    chipassist mcp                                   # stdio, for desktop and editor clients, as --user's groups
    chipassist mcp --transport http --port 8765      # streamable HTTP at /mcp; bearer tokens from the tokens file

Each tool takes its job's remote input (`assistant.api.jobs.remote_input`: the request without server-side
fields, with length caps) and returns the job's result model as structured content (answers, log
explanations and Tcl generations carry their numbered sources: path, lines, title, snippet; search hits their
path and lines). Over stdio the caller is the local
user the server was started for (`--user`, groups from ui.users or the tokens file; none: public documents
only). Over HTTP every request needs ``Authorization: Bearer <token>``; the token's groups decide which
documents any tool may read, and a request without a known token gets 401 before any tool runs.
"""
from __future__ import annotations

import inspect
import logging
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from assistant.api.auth import Principal, TokenStore, safe_text
from assistant.api.jobs import remote_input, to_request
from assistant.jobs import Job, all_jobs
from corpora.config_io import format_validation_error

log = logging.getLogger("chipassist.mcp")
SCOPE = "chipassist"
MAX_BODY_BYTES = 2 << 20  # the largest input (explain_log's 1M-character log) fits, JSON-escaped

INSTRUCTIONS = ("ChipAssist answers chip design questions from a team's indexed documents, RTL, scripts and bugs, "
                "citing its sources as [n]; it also checks and writes yosys/OpenROAD Tcl, summarizes bugs and "
                "explains tool logs.")


class TokenFileVerifier:
    """The SDK's TokenVerifier over the tokens file: a known token becomes an AccessToken carrying its
    user (client_id) and ACL groups (claims); anything else is refused (None)."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        """The MCP SDK's access token for a known API token (its user and groups), None for an unknown one."""
        principal = self.store.verify(token)
        if principal is None:
            log.warning("MCP request with an unknown bearer token refused")  # never the token itself
            return None
        return AccessToken(token="[redacted]", client_id=principal.user, scopes=[SCOPE],
                           claims={"groups": sorted(principal.groups)})


def _caller(local: Principal | None) -> Principal:
    token = get_access_token()
    if token is not None:
        return Principal(token.client_id, frozenset((token.claims or {}).get("groups", [])))
    if local is None:  # an HTTP server always authenticates; reaching here is a wiring bug, so refuse
        raise ToolError("not authenticated")
    return local


def _signature(model: type[BaseModel], returns: type[BaseModel]) -> inspect.Signature:
    """A function signature whose parameters are ``model``'s fields, so the tool's schema is flat."""
    # the FieldInfo as default carries the constraints and descriptions (and no default when required)
    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=f.annotation, default=f)
              for name, f in model.model_fields.items()]
    return inspect.Signature(params, return_annotation=returns)


def make_tool(bot: Any, job: Job, local: Principal | None):
    """The async tool function for ``job``: validate, resolve the caller's groups, run it in a thread."""
    model = remote_input(job)

    def run(inp: BaseModel, groups) -> BaseModel:
        return bot.run(job.name, to_request(job, inp), user_groups=groups)

    async def tool(**kwargs: Any) -> BaseModel:
        caller = _caller(local)
        try:
            inp = model.model_validate(kwargs)
            result = await anyio.to_thread.run_sync(run, inp, caller.acl_groups)
        except ValidationError as e:
            raise ToolError(f"{job.name}: " + format_validation_error(e, show_input=False)) from None
        except (ValueError, KeyError) as e:  # bad input, an unknown (or invisible) bug: the caller's to fix
            message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            raise ToolError(safe_text(f"{job.name}: {message}", bot.settings)) from None
        except Exception as e:
            log.exception("tool %s failed for %s", job.name, caller.user)
            raise ToolError(safe_text(f"{job.name} failed: {type(e).__name__}: {e}", bot.settings)) from None
        log.info("tool %s for %s", job.name, caller.user)
        return result

    tool.__name__ = job.name
    tool.__doc__ = job.description
    tool.__signature__ = _signature(model, job.result)
    return tool


def build_mcp(bot: Any, *, local: Principal | None = None, tokens: TokenStore | None = None,
              host: str = "127.0.0.1", port: int = 8765, log_level: str = "WARNING") -> FastMCP:
    """The MCP server with one tool per job. ``tokens``: HTTP with bearer tokens (required); ``local``: the
    caller for stdio."""
    auth = verifier = None
    if tokens is not None:
        base = f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}"
        verifier = TokenFileVerifier(tokens)
        # A resource server only: tokens come from `chipassist api token add`, not an OAuth flow.
        auth = AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp", validate_token_resource=False,
                            required_scopes=[SCOPE])
    server = FastMCP("chipassist", instructions=INSTRUCTIONS, token_verifier=verifier, auth=auth, host=host,
                     port=port, log_level=log_level, max_request_body_size=MAX_BODY_BYTES)
    for job in all_jobs():  # built when the server is: a job registered later needs a new server
        server.add_tool(make_tool(bot, job, local), name=job.name, title=job.title, description=job.description,
                        structured_output=True)
    return server


def local_principal(settings, tokens: TokenStore, user: str | None) -> Principal:
    """The stdio caller: ``user``'s groups from ui.users, else from their API tokens; no user: public only.
    Raises ValueError for a user configured in neither."""
    if not user:
        return Principal("local")
    if user in settings.ui.users:
        return Principal(user, frozenset(settings.ui.users[user].groups))
    groups = tokens.groups_of(user)
    if groups is None:
        raise ValueError(f"--user: {user!r} is neither in ui.users nor in the API tokens file {tokens.path}")
    return Principal(user, frozenset(groups))
