"""The registered jobs (`assistant.jobs.all_jobs`) as remote callers see them: one input model per job,
derived from its request model, and the answer-log row of a result.

The MCP server, the REST API and the OpenAI facade are built from the registry through this module, so a job
registered anywhere (`assistant.jobs.register`) is an MCP tool and a REST endpoint with no code here.

A remote input is the job's request minus its server-side fields (those marked
``json_schema_extra={"local_only": True}`` in `assistant.types`: server paths such as ``design`` and
``bugs_file``, ``run_unsafe``, ``learn_from_index``, ``script_name``), so a token holder can neither read the
server's files nor run unconfined code; sending one is refused naming the field. Every text field is capped
at the job's ``max_chars`` (text inside lists and mappings, e.g. earlier chat turns, at
``NESTED_FACTOR`` times that), lists and mappings at ``MAX_ITEMS`` entries, and unknown fields are refused
(``extra="forbid"``). A value over its cap is a 422 (REST) or a tool error (MCP) naming the field.
"""
from __future__ import annotations

import functools
import types
import typing
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from assistant.jobs import Job

MAX_ITEMS = 20  # list and mapping entries a remote caller may send (chat history: 20 earlier turns)
NESTED_FACTOR = 4  # an earlier turn may quote a whole answer, longer than a question


def is_local_only(field: FieldInfo) -> bool:
    """Whether a request field is set only by local clients (``json_schema_extra={"local_only": True}``)."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("local_only"))


def local_only_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names of ``model``'s local-only fields."""
    return frozenset(name for name, f in model.model_fields.items() if is_local_only(f))


class RemoteInput(BaseModel):
    """The base of every remote input: unknown fields are errors, local-only ones refused by name."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored
    refused: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_local_only(cls, data: Any) -> Any:
        bad = sorted(set(data) & cls.refused) if isinstance(data, dict) else []
        if bad:
            # one error per field, located at the field, so the 422 and the tool error name it
            raise ValidationError.from_exception_data(cls.__name__, [
                {"type": PydanticCustomError("local_only", "a server-side option: only local clients (the CLI) "
                                                           "may set it"), "loc": (name,), "input": "…"}
                for name in bad])
        return data


def _capped(tp: Any, cap: int, nested: bool = False) -> Any:
    """``tp`` with a length cap on every ``str`` (``cap``, or NESTED_FACTOR x inside containers) and MAX_ITEMS
    on every list and mapping; other types (numbers, Literals, models) unchanged."""
    if tp is str:
        return Annotated[str, Field(max_length=cap * NESTED_FACTOR if nested else cap)]
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return Annotated[(_capped(args[0], cap, nested), *tp.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(_capped(a, cap, nested) for a in args)]
    if origin is Literal:
        return tp
    if origin in (list, typing.List) and args:  # noqa: UP006 - matches typing.List annotations too
        return Annotated[list[_capped(args[0], cap, True)], Field(max_length=MAX_ITEMS)]
    if origin in (dict, typing.Dict) and len(args) == 2:  # noqa: UP006
        return Annotated[dict[_capped(args[0], cap, True), _capped(args[1], cap, True)], Field(max_length=MAX_ITEMS)]
    return tp


@functools.cache
def _remote_model(request: type[BaseModel], max_chars: int) -> type[RemoteInput]:
    fields: dict[str, Any] = {}
    for name, f in request.model_fields.items():
        if is_local_only(f):
            continue
        info = FieldInfo.merge_field_infos(f)  # a copy: constraints, default and description kept
        info.annotation = None
        fields[name] = (_capped(f.annotation, max_chars), info)
    model = create_model(request.__name__, __base__=RemoteInput, __doc__=request.__doc__, **fields)
    model.refused = local_only_fields(request)
    return model


def remote_input(job: Job) -> type[RemoteInput]:
    """The model a remote caller's input for ``job`` is validated with (and its API schema)."""
    return _remote_model(job.request, job.max_chars)


def to_request(job: Job, inp: BaseModel) -> BaseModel:
    """A validated remote input as ``job``'s request (local-only fields keep their defaults)."""
    return job.request.model_validate(inp.model_dump())


def feedback_record(job: Job, result: BaseModel) -> tuple[str, dict[str, Any]] | None:
    """(mode, row) the answer log keeps of ``job``'s result (with its sources' or own ACL), as the job
    declares it; None: nothing to rate."""
    row = job.feedback(result)
    return None if row is None else (job.log_mode, row)
