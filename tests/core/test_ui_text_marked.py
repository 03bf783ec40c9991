"""Every text a person reads in a page is marked for translation (issue 5).

Templates: the text between tags, and the attributes people read or hear (aria-label, title,
placeholder, alt, value of buttons), must come from {% translate %} / {% blocktranslate %}
or from a variable. The brand name and punctuation are the only literal text allowed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

import bookwell

ROOT = Path(bookwell.__file__).parent
ALLOWED = {"Bookwell"}  # the product's name is not translated
READ_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt", "aria-description"}
WORD = re.compile(r"[^\W\d_]{2,}")
# Blocks whose text is not read: translation blocks (marked by definition) and comments.
# {% block something_class %} holds CSS class names and is skipped too.
OPENERS = {"blocktranslate", "blocktrans", "comment"}
CLOSERS = {"endblocktranslate", "endblocktrans", "endcomment"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "code"}:  # code: identifiers and examples, kept as is
            self._skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self._check(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "code"}:
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._check(data)

    def _check(self, text: str) -> None:
        words = [w for w in WORD.findall(text) if w not in ALLOWED]
        if words:
            self.found.append(" ".join(text.replace("\x00", " ").split()))


def untranslated(source: str) -> list[str]:
    """Literal text of a template that is not inside a translation tag."""
    plain: list[str] = []
    depth = 0
    blocks: list[bool] = []  # for each open {% block %}: does it hold a CSS class name?
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.contents.split() or [""]
            name = bits[0]
            if name == "block":
                blocks.append(bits[-1].endswith("_class"))
                depth += blocks[-1]
            elif name == "endblock" and blocks:
                depth -= blocks.pop()
            elif name in OPENERS:
                depth += 1
            elif name in CLOSERS:
                depth -= 1
            # A tag's place becomes a neutral placeholder, so words around it stay apart.
            plain.append("" if depth else " \x00 ")
        elif token.token_type == TokenType.VAR:
            plain.append(" \x00 ")
        elif token.token_type == TokenType.TEXT and not depth:
            plain.append(token.contents)
    parser = _Text()
    parser.feed("".join(plain))
    parser.close()
    return parser.found


def test_the_checker_finds_literal_text_and_accepts_marked_text():
    assert untranslated("<p>Hello there</p>") == ["Hello there"]
    assert untranslated('<a aria-label="Close">x</a>') == ["Close"]
    assert untranslated('<p>{% translate "Hello" %} · {{ name }}</p>') == []
    assert untranslated("<p>{% blocktranslate %}Hi {{ n }}{% endblocktranslate %}</p>") == []
    assert untranslated('<a class="brand" href="/">Bookwell</a>') == []
    assert untranslated("<input aria-label=\"{% translate 'Search' %}\">") == []
    assert untranslated('<main class="{% block main_class %}page{% endblock %}">') == []
    assert untranslated("{% block title %}Settings{% endblock %}") == ["Settings"]


def test_every_template_marks_its_text_for_translation():
    offenders = {}
    for path in sorted(ROOT.rglob("templates/**/*.html")):
        found = untranslated(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
