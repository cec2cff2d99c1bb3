"""Rewrites the part of a Markdown file between two marker comments (what the bench scripts' --write does)."""

import pathlib


def replace_section(path: pathlib.Path, start: str, end: str, lines: list[str]) -> None:
    """Replaces the text between the `start` and `end` markers of `path` with `lines`, keeping the markers."""
    text = path.read_text()
    i, j = text.index(start) + len(start), text.index(end)
    path.write_text(text[:i] + "\n" + "\n".join(lines) + "\n" + text[j:])
    print(f"wrote {path}")
