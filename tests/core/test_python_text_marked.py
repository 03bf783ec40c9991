"""Text the Python code shows to people is marked for translation (issue 5): flash messages,
validation errors, form labels and help, choice labels, and the messages of the errors
services raise for people to read. Read from the source, so a new unmarked string fails."""

from __future__ import annotations

import ast
from pathlib import Path

import bookwell

ROOT = Path(bookwell.__file__).parent
MARKERS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "format_lazy"}
TEXT_KEYWORDS = {
    "label",
    "help_text",
    "verbose_name",
    "verbose_name_plural",
    "empty_label",
    "message",  # validators' messages
}
# Dicts of texts in forms' Meta.
TEXT_DICTS = {"labels", "help_texts"}
# Errors whose message is shown to the person who caused them (core.errors.ServiceError and
# its kinds; forms' ValidationError).
SHOWN_ERRORS = {
    "ValidationError",
    "ServiceError",
    "Forbidden",
    "Conflict",
    "Gone",
    "SlotTaken",
    "StaffAway",
    "OnlineBookingClosed",
}
MESSAGE_CALLS = {"success", "info", "warning", "error", "add_message"}
SKIP_DIRS = {"migrations", "locale"}


def _is_text(node: ast.AST) -> bool:
    """A literal a person would read: a str constant with a word in it, or an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    return isinstance(node, ast.JoinedStr)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def unmarked(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in MARKERS:
                continue
            candidates: list[ast.expr] = []
            if name in SHOWN_ERRORS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Dict):  # {"field": ["text", ...]} or {"field": "text"}
                    for value in first.values:
                        items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
                        candidates.extend(i for i in items if i is not None)
                else:
                    candidates.append(first)
            if name == "add_error" and len(node.args) > 1:
                candidates.append(node.args[-1])  # (field, text) or (line, column, text)
            if name == "RegexValidator" and len(node.args) > 1:
                candidates.append(node.args[1])
            if name in MESSAGE_CALLS and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id == "messages" and len(node.args) > 1:
                    candidates.append(node.args[1])
            candidates += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
            found += [(c.lineno, ast.unparse(c)[:60]) for c in candidates if _is_text(c)]
            found += [
                (c.lineno, ast.unparse(c)[:60])
                for k in node.keywords
                if k.arg == "error_messages" and isinstance(k.value, ast.Dict)
                for c in k.value.values
                if c is not None and _is_text(c)
            ]
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id in TEXT_DICTS for t in node.targets)
        ):
            found += [
                (c.lineno, ast.unparse(c)[:60])
                for c in node.value.values
                if c is not None and _is_text(c)
            ]
        elif isinstance(node, ast.ClassDef) and any(
            _name(b) in {"TextChoices", "IntegerChoices"} for b in node.bases
        ):
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and isinstance(item.value, ast.Tuple)
                    and len(item.value.elts) == 2
                    and _is_text(item.value.elts[1])
                ):
                    found.append((item.lineno, ast.unparse(item.value.elts[1])[:60]))
    return found


def test_the_checker_finds_unmarked_text():
    code = """
messages.success(request, "Saved the thing.")
messages.info(request, _("Marked text."))
raise ValidationError(f"Bad {value} here")
raise ValidationError(_("Bad value here"))
name = forms.CharField(label="Full name", help_text=_("As on the card."))
class Kind(models.TextChoices):
    A = "a", "Apple"
    B = "b", _("Banana")
labels = {"name": "Name", "age": _("Age")}
form.add_error("name", "Too long.")
form.add_error("name", _("Too short."))
check = RegexValidator(r"^a", message="Starts with a.")
other = RegexValidator(r"^b", "Starts with b.")
raise ValidationError({"name": ["Too long."], "age": [_("Too old.")]})
"""
    assert sorted(line for line, _ in unmarked(code)) == [2, 4, 6, 8, 10, 11, 13, 14, 15]


def test_every_text_shown_from_python_is_marked():
    offenders = {}
    for path in sorted(ROOT.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(ROOT).parts):
            continue
        found = unmarked(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
