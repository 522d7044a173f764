"""JSON Lines rows handed between stages: a bad line is named by file and line, and a failed write keeps the old
file and leaves no temp file."""
from __future__ import annotations

import pytest

from corpora.jsonl import read_jsonl, write_jsonl


class RowError(Exception):
    pass


def test_rows_round_trip_with_line_numbers_and_blank_lines_skipped(tmp_path):
    f = tmp_path / "sub" / "rows.jsonl"
    write_jsonl(f, [{"id": "y1", "text": "µ-arch, 中文"}, [1, 2]])
    f.write_text(f.read_text(encoding="utf-8") + "\n   \n" + '"last"\n', encoding="utf-8")
    assert list(read_jsonl(f)) == [(1, {"id": "y1", "text": "µ-arch, 中文"}), (2, [1, 2]), (5, "last")]


@pytest.mark.parametrize("content, why", [(b'{"a": 1}\n{"a": \n', r"rows\.jsonl:2: not JSON"),
                                          (b'{"a": 1}\n{"a": "\xff"}\n', r"rows\.jsonl:2: not UTF-8 \(byte 8\)")])
def test_a_bad_line_is_named_with_the_callers_error(tmp_path, content, why):
    f = tmp_path / "rows.jsonl"
    f.write_bytes(content)
    with pytest.raises(RowError, match=why):
        list(read_jsonl(f, RowError))


def test_a_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    f = tmp_path / "rows.jsonl"
    write_jsonl(f, [{"id": 1}])
    with pytest.raises(TypeError):
        write_jsonl(f, [{"id": 2}, {"id": object()}])
    assert f.read_text() == '{"id": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]
