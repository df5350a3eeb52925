"""The README as it renders (markdown-it-py, CommonMark with tables, as GitHub shows it): the
chat commands are one table, and every command the bot answers has its row there."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.areas import registry_of
from handlers import AREAS

README = Path(__file__).resolve().parent.parent / "README.md"


def section(title: str) -> list[Token]:
    """The tokens under the `## title` heading, up to the next heading of that level."""
    tokens = MarkdownIt("commonmark").enable("table").parse(README.read_text())
    start = next(
        i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2" and tokens[i + 1].content == title
    )
    end = next(i for i in range(start + 1, len(tokens)) if tokens[i].type == "heading_open" and tokens[i].tag == "h2")
    return tokens[start:end]


def first_cells(tokens: list[Token]) -> list[list[str]]:
    """The code spans of each table row's first cell."""
    rows, in_first = [], False
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
            in_first = True
        elif token.type in ("td_close", "th_close"):
            in_first = False
        elif token.type == "inline" and in_first:
            rows[-1] += [child.content for child in token.children or [] if child.type == "code_inline"]
    return rows


def test_the_chat_commands_are_one_table_with_a_row_for_every_command_the_bot_answers():
    tokens = section("Chat commands")
    assert [t.type for t in tokens].count("table_open") == 1
    loose = [t.content for t in tokens if t.type == "inline" and t.content.startswith("|")]
    assert loose == [], "rows cut off from the table render as a paragraph"
    paths = sorted((command.path for command in registry_of(AREAS)), key=len, reverse=True)
    written = set()
    for spans in first_cells(tokens):
        for span in spans:
            named = next((p for p in paths if span == f"/{p}" or span.startswith(f"/{p} ")), None)
            written.add(named)
    missing = [path for path in paths if path not in written]
    assert missing == [], f"chat commands with no row in the README: {missing}"
