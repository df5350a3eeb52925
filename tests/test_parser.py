"""How chat text becomes a command call: what people type must mean what they meant."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Call, Command, CommandError, Option, Param, Registry, read_command, text
from handlers import build_registry
from storage.errors import Refused


async def _noop(ctx, call):  # the parser never runs handlers
    raise AssertionError


MOTION_OPEN = Command(
    "motion open",
    "open a motion",
    _noop,
    params=(Param("question", text),),
    options=(Option("options", "a|b|c", text), Option("quorum", "50%", text)),
    flags=("secret", "hidden"),
)
REGISTRY = Registry([MOTION_OPEN, *build_registry()])


def call(text: str) -> tuple[Command, Call]:
    line = read_command(text)
    assert line is not None, f"{text!r} should read as a command"
    command, words = REGISTRY.resolve(line)
    return command, command.parse(line, words)


@pytest.mark.parametrize("text", ["/whoami", "!whoami", "/WhoAmI", "/whoami@WgBot", "  /whoami  "])
def test_prefixes_suffix_and_case_all_reach_the_same_command(text):
    command, _ = call(text)
    assert command.path == "whoami"


def test_telegram_suffix_is_kept_so_the_transport_can_tell_whose_command_it_is():
    assert read_command("/help@OtherBot").addressed_to == "OtherBot"


@pytest.mark.parametrize("text", ["hello", "", "/", "!!!", "! wow", "/ help", "// comment", "http://x"])
def test_ordinary_chat_is_not_a_command(text):
    assert read_command(text) is None


def test_quoted_question_options_and_flags():
    _, parsed = call('/motion open "Adopt the PFAS roadmap v2?" quorum="50 %" options=yes|no secret')
    assert parsed.args == {"question": "Adopt the PFAS roadmap v2?"}
    assert parsed.options == {"quorum": "50 %", "options": "yes|no"}
    assert parsed.flags == {"secret"}


def test_typographic_quotes_from_phones_work_like_straight_ones():
    _, parsed = call("/motion open “Adopt it?” Secret")
    assert parsed.args["question"] == "Adopt it?"
    assert parsed.flags == {"secret"}


def test_free_text_is_taken_exactly_as_written():
    _, parsed = call('/comment 3 2 I don\'t agree: see "annex B", quorum=50%  please')
    assert parsed.args == {
        "deliverable": "3",
        "version": "2",
        "text": 'I don\'t agree: see "annex B", quorum=50%  please',
    }


def test_an_unclosed_quote_is_fine_in_free_text_but_not_in_an_argument():
    _, parsed = call('/comment 3 2 he said "hi')
    assert parsed.args["text"] == 'he said "hi'
    with pytest.raises(CommandError, match="never closed"):
        call('/motion open "Adopt it?')


@pytest.mark.parametrize(
    "text, reason",
    [
        ("/motion open", "Missing <question>"),
        ("/motion open Q extra", "Too many arguments: 'extra'"),
        ("/motion open Q quorom=50%", "Unknown option quorom=. Did you mean quorum=?"),
        ("/motion open Q quorum=1 quorum=2", "quorum= is given twice"),
        ("/wg info", "Missing <group>"),
        ("/whoami now", "Too many arguments"),
    ],
)
def test_badly_written_calls_say_what_is_wrong(text, reason):
    with pytest.raises(CommandError, match=reason.replace("?", r"\?").replace(".", r"\.")):
        call(text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("/hepl", "Unknown command /hepl. Did you mean /help?"),
        ("/wg lst", "Unknown subcommand 'lst'. Did you mean /wg list?"),
        ("/wg frobnicate", "Unknown /wg subcommand 'frobnicate'. Usage: /wg list"),
        ("/wg", "/wg needs one of: list, info"),
        ("/xyzzy", "Unknown command /xyzzy. Send /help"),
    ],
)
def test_unknown_commands_get_a_suggestion(text, reason):
    with pytest.raises(CommandError) as refused:
        call(text)
    assert str(refused.value).startswith(reason)


def test_a_misspelt_subcommand_of_a_family_with_a_bare_command_is_suggested():
    """`/vote opne` could be a ballot on vote "opne": the bare command is tried first, and the
    subcommand is suggested only when it cannot read the words."""
    line = read_command("/vote opne")
    command, _ = REGISTRY.resolve(line)
    assert command.path == "vote"
    assert REGISTRY.misspelt_subcommand(line).meant.path == "vote open"
    assert REGISTRY.misspelt_subcommand(read_command("/vote 12 yes")) is None


@pytest.mark.parametrize(
    "text, hint",
    [
        ("/vote open Unquoted question", 'Text with spaces goes in quotes: /vote open "Unquoted question"'),
        (
            "/vote open Adopt the roadmap closes=3d secret",
            'Text with spaces goes in quotes: /vote open "Adopt the roadmap" closes=3d secret',
        ),
        ("/meeting schedule next tuesday Budget", "Text with spaces goes in quotes."),
    ],
)
def test_too_many_arguments_say_that_text_with_spaces_goes_in_quotes(text, hint):
    with pytest.raises(CommandError) as refused:
        call(text)
    assert str(refused.value).startswith("Too many arguments: ") and str(refused.value).endswith(hint)


def test_options_after_a_rest_argument_are_options_not_text():
    command, parsed = call("/decisions pfas 2026 as=md")
    assert command.path == "decisions"
    assert parsed.args == {"group and/or year": "pfas 2026"} and parsed.options == {"as": "md"}
    _, described = call('/deliverable new "Roadmap" The plan for 2027. due="2027-06-30 17:00"')
    assert described.args["description"] == "The plan for 2027."
    assert described.options == {"due": "2027-06-30 17:00"}
    _, unknown_key = call("/deliverable new Roadmap see page=3")  # not an option of the command: it is text
    assert unknown_key.args["description"] == "see page=3" and unknown_key.options == {}


def _calls_with_options() -> list[Command]:
    return [c for c in build_registry() if c.options and c.params]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_option_of_every_command_may_stand_anywhere_after_the_command_words(data):
    """A parser-level property over the whole registry: whatever slots a command's options are
    written in (between its arguments, or after the last one, a rest argument included), the
    call reads as with the options written first."""
    command = data.draw(st.sampled_from(_calls_with_options()), label="command")
    arguments = ["free text of several words" if p.rest else f"arg{i}" for i, p in enumerate(command.params)]
    options = [f'{o.key}="value {i}"' if i % 2 else f"{o.key}=value{i}" for i, o in enumerate(command.options)]
    slots = [data.draw(st.integers(0, len(arguments)), label=o) for o in options]
    words: list[str] = []
    for position, argument in enumerate([*arguments, None]):
        words += [option for option, slot in zip(options, slots, strict=True) if slot == position]
        if argument is not None:
            words.append(argument)
    anywhere = call(" ".join([f"/{command.path}", *words]))
    first = call(" ".join([f"/{command.path}", *options, *arguments]))
    assert anywhere[0] is first[0] is REGISTRY.find(command.path)
    assert anywhere[1] == first[1]
    assert anywhere[1].options == {o.key: f"value {i}" if i % 2 else f"value{i}" for i, o in enumerate(command.options)}


def test_usage_lines_come_from_the_declaration():
    assert MOTION_OPEN.usage == "/motion open <question> [options=a|b|c] [quorum=50%] [secret] [hidden]"
    assert REGISTRY.find("comment").usage == "/comment <deliverable> <version> <text…>"


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_any_text_is_either_chat_a_call_or_a_clear_refusal(text):
    line = read_command(text)
    if line is None:
        assert not re.match(r"[/!][A-Za-z]", text.strip())  # only a prefix and a letter start one
        return
    try:
        command, words = REGISTRY.resolve(line)
        command.parse(line, words)
    except Refused as refused:
        assert str(refused).strip() and "\n" not in str(refused).split(" Usage:")[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(['"', "'", "“", "”", "=", "a", "b", " ", "key=", "\n", "secret"])))
def test_quote_soup_never_breaks_the_tokenizer(parts):
    raw = "".join(parts).strip()
    if not raw:
        return
    _, parsed = call("/comment 1 2 " + raw)
    assert parsed.args["text"] in (raw, raw[1:-1])  # as written, or one quoted phrase unwrapped
