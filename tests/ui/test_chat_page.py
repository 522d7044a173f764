"""An engineer uses the chat page in a real browser: log in, ask, read sources, rate, switch to Tcl, restart.

    python -m pytest tests/ui -q          # marker `browser`; runs by default

Drives a real `chipassist ui` server (tests/ui/conftest.py) with headless Debian Chromium; the retrieval-only
`none` backend answers, so every reply is deterministic and grounded in the sample corpus.
"""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
REPLY = "[data-step-type=assistant_message]"
ANSWER_S = 120_000  # ms; the first question loads the embedding model on a shared CPU


def login(browser, server, user="engineer", password="chipassist"):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url)
    page.locator("input").first.fill(user)
    page.locator("input[type=password]").fill(password)
    page.locator("button[type=submit]").click()
    page.wait_for_selector("#chat-input", timeout=30_000)
    return page


def send(page, text: str):
    """Type ``text``, send it and return the locator of the reply once it is complete."""
    before = page.locator(REPLY).count()
    page.locator("#chat-input").fill(text)
    page.locator("#chat-submit").click()
    page.wait_for_function(f"document.querySelectorAll('{REPLY}').length > {before}", timeout=ANSWER_S)
    reply = page.locator(REPLY).last
    # the copy / thumbs buttons appear only when the message is finished
    reply.locator("button").first.wait_for(timeout=ANSWER_S)
    return reply


def switch_profile(page, name: str) -> None:
    page.locator("#chat-profiles").click()
    page.get_by_role("option").filter(has_text=name).click()
    confirm = page.locator("#confirm")  # switching profile mid-chat asks to start a new chat
    try:
        confirm.click(timeout=3000)
    except Exception:  # no dialog: the chat was empty
        pass
    page.wait_for_function(f"document.querySelector('#chat-profiles').innerText.includes('{name}')")
    page.wait_for_selector("#chat-input", timeout=30_000)


def test_engineer_session(ui_server, browser, tmp_path):
    page = login(browser, ui_server)
    reply = send(page, "How is the UART baud rate set?")
    text = reply.inner_text()  # source badges are upper-cased by CSS
    assert "Sources" in text and "docs/uart.md" in text.lower(), text
    assert "BAUD_DIV" in text  # grounded in the sample corpus's UART spec
    page.screenshot(path=str(tmp_path / "ask.png"))

    # a source opens as a side element with path, section title and snippet
    reply.get_by_text("docs/uart.md").first.click()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "source.png"))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "ask.png", out / "ui.png")

    # thumbs up lands in feedback.sqlite next to the logged answer
    reply.locator("button").nth(1).click()
    dialog = page.get_by_role("dialog")
    dialog.locator("textarea").fill("clear and cited")
    page.locator("#submit-feedback").click()
    rows = _wait_rows(ui_server.data_dir / "feedback.sqlite")
    assert rows[0]["rating"] == 1 and rows[0]["comment"] == "clear and cited" and rows[0]["question"] == "How is the UART baud rate set?"
    assert rows[0]["client"] == "ui" and rows[0]["user"] == "engineer" and "docs/uart.md" in rows[0]["sources"]

    # Tcl profile with the `none` backend: command references, and a pasted script gets checked by yosys
    switch_profile(page, "Tcl script")
    reply = send(page, "Synthesize the UART with yosys and write the netlist")
    assert "no script" in reply.inner_text().lower() or "references" in reply.inner_text().lower()
    reply = send(page, "```tcl\nread_verilog rtl/uart.v\nsynth -top uart_top -bogus_option\n```")
    checked = reply.inner_text()
    assert "Check: failed" in checked and "bogus_option" in checked, checked
    page.screenshot(path=str(tmp_path / "tcl.png"))
    page.close()

    # the chat survives a server restart and shows in the history sidebar
    ui_server.stop()
    ui_server.start()
    page = login(browser, ui_server)
    page.get_by_text("How is the UART baud rate set?").first.click()
    page.wait_for_selector("text=BAUD_DIV", timeout=30_000)
    page.screenshot(path=str(tmp_path / "history.png"))
    page.close()


def _wait_rows(db: Path, tries: int = 40) -> list[dict]:
    import time

    for _ in range(tries):
        with sqlite3.connect(db) as c:
            c.row_factory = sqlite3.Row
            rows = [dict(r) for r in c.execute(
                "SELECT f.rating, f.comment, a.* FROM feedback f JOIN answers a ON a.id = f.answer_id")]
        if rows:
            return rows
        time.sleep(0.25)
    raise AssertionError(f"no feedback row in {db}")
