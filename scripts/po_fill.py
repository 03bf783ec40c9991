"""Fills a gettext .po file from a JSON dict {msgid: msgstr or [singular, plural]}.

Used to keep the German translations in scripts/translations/de.json (reviewable text) and
regenerate django.po after `bookwell makemessages`; `bookwell compilemessages` builds the .mo.
Untranslated entries are reported.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _unquote(lines: list[str]) -> str:
    return "".join(json.loads(line.strip()) for line in lines)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _unfuzzy(line: str) -> str:
    """Drops the fuzzy flag (makemessages' guess from an older text): the table decides."""
    if not line.startswith("#,"):
        return line
    flags = [f.strip() for f in line[2:].split(",") if f.strip() and f.strip() != "fuzzy"]
    return "#, " + ", ".join(flags) if flags else "#,"


def fill(po_path: Path, table: dict[str, str | list[str]]) -> list[str]:
    blocks = po_path.read_text().split("\n\n")
    missing: list[str] = []
    out = []
    for block in blocks:
        lines = block.split("\n")
        keys = [
            i for i, line in enumerate(lines) if re.match(r"^(msgid|msgid_plural|msgstr)", line)
        ]
        if not keys or not any(lines[i].startswith("msgid ") for i in keys):
            out.append(block)
            continue
        parts: dict[str, list[str]] = {}
        order: list[str] = []
        current = None
        head: list[str] = []
        for line in lines:
            m = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
            if m:
                current = m.group(1)
                order.append(current)
                parts[current] = [m.group(2)]
            elif current and line.startswith('"'):
                parts[current].append(line)
            elif current is None:
                head.append(line)
        msgid = _unquote(parts["msgid"])
        if msgid == "":
            out.append(block)
            continue
        wanted = table.get(msgid)
        head = [_unfuzzy(h) for h in head if not h.startswith("#|")]
        head = [h for h in head if h != "#,"]
        new = list(head)
        new.append("msgid " + "\n".join(parts["msgid"]))
        if "msgid_plural" in parts:
            new.append("msgid_plural " + "\n".join(parts["msgid_plural"]))
            forms = wanted if isinstance(wanted, list) else ["", ""]
            for i, text in enumerate(forms):
                new.append(f"msgstr[{i}] {_quote(text)}")
        else:
            new.append(f"msgstr {_quote(wanted if isinstance(wanted, str) else '')}")
        if not wanted:
            missing.append(msgid)
        out.append("\n".join(new))
    po_path.write_text("\n\n".join(out))
    return missing


if __name__ == "__main__":
    po, table_path = Path(sys.argv[1]), Path(sys.argv[2])
    left = fill(po, json.loads(table_path.read_text()))
    for msgid in left:
        print(f"untranslated: {msgid!r}")
