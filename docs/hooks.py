"""MkDocs hooks: the reference parts of the docs are generated from the code at build time.

A page asks for a generated part with a marker on a line of its own, ``<!-- generated: NAME -->``:

- ``settings``: every setting of :class:`tracker.config.Settings`, with its type, its default from
  ``config/settings.toml`` (or the class, for a setting the file leaves out), its environment variable and
  the comment above it in the file (else the comment beside it in the class; a setting with neither still
  gets its row and default).
- ``model-assumptions``: what each attribution model assumes, as the report page shows it.
- ``cli``: the ``--help`` of every ``tracker`` command.

An unknown marker, or a setting missing from the table, fails the build. Registered in ``mkdocs.yml``
under ``hooks:``; the docs extra (``make docs``) installs MkDocs into the project's virtualenv, so
``tracker`` imports here as it does in the tests.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import posixpath
import re
import tempfile
import tokenize
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_TOML = ROOT / "config" / "settings.toml"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)
SECTION = re.compile(r"^#\s*-{2,}\s*(?P<title>.*?)\s*-{2,}\s*$")
KEY = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=")
DOCS = Path(__file__).resolve().parent  # settings.toml comments name docs pages by their path under docs/
NOT_SETTINGS = ("taxonomy", "answers")  # loaded from their own files, not settings
TYPES = {"str": "text", "int": "whole number", "float": "number", "bool": "true / false",
         "tuple[str, ...]": "list (comma-separated in the environment)"}


@dataclasses.dataclass
class Group:
    """Settings that one comment of ``settings.toml`` describes together."""

    comment: str
    keys: list[str]


def settings_sections(text: str) -> list[tuple[str, list[Group]]]:
    """Read ``settings.toml`` as (section title, groups); a group is a comment and the keys right below it.

    A blank line ends a comment; a ``# ---- Title ----`` line starts a section. The file's opening comment
    is followed by a blank line, so it describes no key.
    """
    sections: list[tuple[str, list[Group]]] = [("General", [])]
    comment: list[str] = []
    group: Group | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            comment, group = [], None
        elif section := SECTION.match(stripped):
            sections.append((section["title"], []))
            comment, group = [], None
        elif stripped.startswith("#"):
            group = None  # a comment after keys describes the keys below it
            comment.append(stripped.lstrip("#").strip())
        elif key := KEY.match(stripped):
            if group is None:
                group = Group(" ".join(comment), [])
                sections[-1][1].append(group)
                comment = []
            group.keys.append(key["key"])
    return [(title, groups) for title, groups in sections if groups]


def inline_comments(source: str, class_name: str = "Settings") -> dict[str, str]:
    """Return the comment beside each field of ``class_name`` in a module's source (``name: T = x  # ...``)."""
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    body = next(node.body for node in ast.parse(source).body
                if isinstance(node, ast.ClassDef) and node.name == class_name)
    return {node.target.id: comments[node.end_lineno] for node in body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.end_lineno in comments}


def toml_literal(value: Any) -> str:
    """Show a default as it is written in ``settings.toml``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def readme_links(text: str, page_uri: str) -> str:
    """Turn a mention of a docs page in settings.toml (``docs/operations/durability.md``) into a link to it."""
    def link(match: re.Match[str]) -> str:
        page, anchor = match["page"], match["anchor"] or ""
        if not (DOCS / page).is_file():
            raise PluginError(f"settings.toml mentions docs/{page}, which does not exist")
        target = posixpath.relpath(page, posixpath.dirname(page_uri) or ".")
        return f"[{page}{anchor}]({target}{anchor})"
    return re.sub(r"docs/(?P<page>[\w/-]+\.md)(?P<anchor>#[\w-]+)?", link, text)


def _cell(text: str) -> str:
    """Make a comment safe in a table cell: ``<instance>`` is text, not an HTML tag (code spans stay as they are)."""
    parts = re.split(r"(`[^`]*`)", text.replace("\n", " "))
    return "".join(part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;")
                   for part in parts).replace("|", "\\|")


def settings_table(page_uri: str) -> str:
    """Render every setting, section by section of ``settings.toml``, then the ones the file leaves out."""
    from tracker.config import Settings

    fields = {f.name: f for f in dataclasses.fields(Settings) if f.name not in NOT_SETTINGS}
    text = SETTINGS_TOML.read_text(encoding="utf-8")
    defaults = tomllib.loads(text)
    beside = inline_comments(Path(inspect.getsourcefile(Settings) or "").read_text(encoding="utf-8"))
    sections = settings_sections(text)
    unknown = [key for _, groups in sections for g in groups for key in g.keys if key not in fields]
    if unknown:
        raise PluginError(f"config/settings.toml has keys tracker.config.Settings does not: {unknown}")
    listed = {key for _, groups in sections for g in groups for key in g.keys}
    left_out = [name for name in fields if name not in listed]
    if left_out:
        sections.append(("Not in settings.toml (class defaults)", [Group("", [name]) for name in left_out]))

    out: list[str] = []
    for title, groups in sections:
        title = re.sub(r"\s*\(docs/[^)]+\)\s*$", "", title)
        out += [f"### {title}", "", '<div class="settings-table" markdown>', "",
                "| Setting | Default | Description |", "| --- | --- | --- |"]
        for group in groups:
            comment = _cell(readme_links(group.comment, page_uri))
            notes = {key: _cell(readme_links(beside[key], page_uri)) for key in group.keys if key in beside}
            if len(group.keys) == 1:  # the file's comment, else the class's
                description = comment or notes.get(group.keys[0], "")
            else:  # the file's comment, and what the class says of each of its keys
                description = "<br>".join([comment] * bool(comment) + [f"`{k}`: {note}" for k, note in notes.items()])
            if not description:
                description = "No comment in `config/settings.toml` or `tracker/config.py`."
            names = "<br>".join(f"`{key}`<br><small>`TRACKER_{key.upper()}`</small>" for key in group.keys)
            values = "<br>".join(
                f"`{toml_literal(defaults[key] if key in defaults else fields[key].default)}`"
                f"<br><small>{TYPES.get(str(fields[key].type), str(fields[key].type))}</small>" for key in group.keys)
            out.append(f"| {names} | {values} | {description} |")
        out += ["", "</div>", ""]
    table = "\n".join(out)
    missing = [name for name in fields if f"`{name}`" not in table]
    if missing:
        raise PluginError(f"settings missing from the generated table: {missing}")
    return table


def model_assumptions(page_uri: str) -> str:
    """Render what each model assumes, from the same table the report page shows."""
    from tracker.pages.reports import MODEL_ASSUMPTIONS, MODEL_LABELS

    return "\n".join(f"`{name}` ({MODEL_LABELS[name]})\n:   {text}\n" for name, text in MODEL_ASSUMPTIONS.items())


def cli_reference(page_uri: str) -> str:
    """Render ``--help`` of the ``tracker`` command and of each command and subcommand, as the CLI prints it."""
    from tracker import create_app
    from tracker.cli import main
    from tracker.db import get_db

    with tempfile.TemporaryDirectory(prefix="tracker-docs-") as folder:
        app = create_app({"database_url": f"sqlite:///{folder}/docs.db", "instance_path": folder,
                          "secret_key": "docs", "ip_hash_secret": "docs", "SPOOL_BACKGROUND": False})
        try:
            root = click.Context(main, info_name="tracker", terminal_width=100, max_content_width=100)
            out: list[str] = []
            for name in sorted(app.cli.commands):
                out += _help_blocks(app.cli.commands[name], name, root, level=3)
        finally:
            get_db(app).engine.dispose()
    return "\n".join(out)


def _help_blocks(command: click.Command, name: str, parent: click.Context, level: int) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
    blocks = [f"{'#' * level} `{ctx.command_path}`", "", "```text", command.get_help(ctx), "```", ""]
    if isinstance(command, click.Group):
        for sub in sorted(command.commands):
            blocks += _help_blocks(command.commands[sub], sub, ctx, level + 1)
    return blocks


GENERATORS: dict[str, Callable[[str], str]] = {
    "settings": settings_table,
    "model-assumptions": model_assumptions,
    "cli": cli_reference,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``<!-- generated: NAME -->`` line with what its generator renders for this page."""
    def generate(match: re.Match[str]) -> str:
        name = match[1]
        if name not in GENERATORS:
            raise PluginError(f"{page.file.src_uri}: unknown generated part {name!r} (known: {sorted(GENERATORS)})")
        return GENERATORS[name](page.file.src_uri)
    return MARKER.sub(generate, markdown)


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """``mkdocs serve``: rebuild when the settings change too."""
    from tracker.config import Settings

    server.watch(str(SETTINGS_TOML))
    server.watch(inspect.getsourcefile(Settings) or str(SETTINGS_TOML))
    return server
