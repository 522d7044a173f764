"""The sample types of instruction-data generation: a candidate (question, answer) before filtering, and the
sibling rows multiple-choice questions are drawn from."""
from __future__ import annotations

from dataclasses import dataclass, field

STRUCTURE_KINDS = ("qa", "commands", "options", "registers", "tcl", "bugs")
TEACHER_KINDS = ("qa", "tcl", "bugs")


@dataclass
class Candidate:
    """One generated (question, answer) sample before filtering, with the text it must be grounded in."""
    kind: str
    question: str
    answer: str
    source: str = ""
    context: str = ""  # the text the answer must be grounded in
    reason: str = ""  # set when the candidate is broken before filtering (a malformed teacher reply)

    def sample(self) -> dict:
        """The sample as an SFT chat row (user question, assistant answer)."""
        return {"kind": self.kind, "source": self.source,
                "messages": [{"role": "user", "content": self.question.strip()},
                             {"role": "assistant", "content": self.answer.strip()}]}


@dataclass
class McGroup:
    """Sibling rows of one table (or all bugs) from which multiple-choice questions are drawn."""
    category: str
    source: str
    prefix: str  # the question up to the quoted description
    items: list[tuple[str, str]] = field(default_factory=list)  # (name = the right choice, description)
