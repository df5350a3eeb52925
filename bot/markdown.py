"""Markdown as people write it in chat, turned into the HTML each platform renders.

Raw HTML in the source is shown as text (never passed through), and single line breaks stay
line breaks, as they do in chat clients.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})


def to_html(text: str) -> str:
    html: str = _renderer.render(text)  # markdown-it types what it renders as Any
    return html.strip()
