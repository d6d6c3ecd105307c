"""``rpa replies``: a labelled corpus of customers' WhatsApp replies, read by the interpreters of
``flows.process.replies``, with one confusion matrix per question the robot asks.

The corpus is a folder with one YAML file per question, named after it (``data.yaml``, ``yes_no.yaml``,
``sim_3g.yaml``, ``plan.yaml``, ``documents.yaml``, ``acceptance.yaml``, ``token.yaml``, ``nit.yaml``).
Each file is a mapping with ``messages``, a list of entries, and for ``plan.yaml`` ``offered``, the plans
offered unless an entry gives its own. An entry has ``text`` (always a quoted string; ``""`` for a sticker
or a voice note alone), ``files`` (optional: ``{name, content_type}``), ``expect`` and an optional
``note``. ``expect`` is ``unclear``, ``person`` or the value a careful agent reads:

* ``yes_no``, ``acceptance``: ``true`` / ``false``;
* ``sim_3g``: ``recuperar_sim``, ``linea_nueva`` or ``"no"`` (quoted: YAML reads a bare no as false);
* ``plan``: the offered plan's exact name; ``token``: the code in capitals; ``nit``: the digits, quoted;
* ``data``: ``answer`` (an answer without NIT or e-mail) or ``{nit: "...", email: "..."}``;
* ``documents``: the names of the files that are photos (``[]`` when none is).

Labels: a reading's value as text ("True", "recuperar_sim", "Mega Plan 69"), "unclear" or "person". The
answers whose values are open (a code, a NIT, the data, the photos) are labelled by kind ("code", "nit",
"answer", "photos" / "no photos") so a matrix stays readable; a reading of the right kind with another
value is labelled "other code", "other nit"... and counts as wrong.

Figures: *false yes* (``yes_no`` read True where True was not expected; ``sim_3g`` read a recovery or a
new line that was not the expected answer), *false acceptance* (``acceptance`` read True where True was
not expected), *false tokens* (``token`` read a code other than the expected one, including where none was
expected), *clear accuracy* (of the messages whose expected label is not "unclear", the share read exactly
right) and the *unclear rate* (the share of messages read as unclear). ``check`` says whether a report
meets the bar: no false yes, acceptance or token, and a clear accuracy of at least 90 %, overall and for
each question.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, computed_field

from flows.process.replies import (
    CustomerFile,
    DataAnswer,
    Reading,
    Sim3GChoice,
    TokenFormat,
    Verdict,
    photos_in,
    read_acceptance,
    read_data,
    read_nit,
    read_plan,
    read_sim_3g,
    read_token,
    read_yes_no,
)

#: The questions, in the order of the process, with what each answers.
QUESTIONS: dict[str, str] = {
    "data": "Primer contacto: name, CI, city, line, billing",
    "yes_no": "interest, yes or no (portability)",
    "sim_3g": "Línea 3G: recover the SIM, a new line, or neither",
    "plan": "the plan chosen among the offered",
    "documents": "the CI photos and selfie among the files",
    "acceptance": "T&C: ACEPTO",
    "token": "the SMS code from 7371",
    "nit": "the billing NIT",
}
MIN_CLEAR_ACCURACY = 0.90
_ENTRY_KEYS = {"text", "files", "expect", "offered", "note"}
_FILE_KEYS = {"messages", "offered"}


class CorpusError(Exception):
    """A corpus folder that cannot be read: missing, empty, or a file or entry that is malformed."""


class CorpusEntry(BaseModel):
    """One labelled message."""

    model_config = ConfigDict(frozen=True)

    question: str
    file: str
    index: int  # 1-based, in its file
    text: str
    files: list[CustomerFile] = []
    expected: Reading
    offered: list[str] = []
    note: str | None = None


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load_corpus(folder: Path) -> list[CorpusEntry]:
    """Every entry of every question file in ``folder``; ``CorpusError`` names the file and the entry."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise CorpusError(f"no corpus files (*.yaml) in {folder}")
    entries: list[CorpusEntry] = []
    for path in paths:
        entries.extend(_load_file(path))
    return entries


def _load_file(path: Path) -> list[CorpusEntry]:
    question = path.stem
    if question not in QUESTIONS:
        raise CorpusError(f"{path}: no question is named {question!r} (expected one of: {', '.join(QUESTIONS)})")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(content, dict) or not isinstance(content.get("messages"), list):
        raise CorpusError(f"{path}: expected a mapping with a list of `messages`")
    unknown = set(content) - _FILE_KEYS
    if unknown:
        raise CorpusError(f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(_FILE_KEYS)})")
    default_offered = content.get("offered", [])
    if not _is_list_of_str(default_offered):
        raise CorpusError(f"{path}: `offered` must be a list of plan names")
    entries = []
    for index, raw in enumerate(content["messages"], start=1):
        where = f"{path}, entry {index}"
        if isinstance(raw, dict) and isinstance(raw.get("text"), str):
            where += f" ({raw['text'][:40]!r})"
        try:
            entries.append(_entry(question, path, index, raw, default_offered))
        except (ValueError, TypeError, ValidationError) as exc:
            raise CorpusError(f"{where}: {exc}") from None
    return entries


def _entry(question: str, path: Path, index: int, raw: Any, default_offered: list[str]) -> CorpusEntry:
    if not isinstance(raw, dict):
        raise ValueError("an entry is a mapping with `text` and `expect`")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (allowed: {sorted(_ENTRY_KEYS)})")
    if not isinstance(raw.get("text"), str):
        raise ValueError("`text` must be a quoted string (YAML reads a bare yes/no as true/false)")
    if "expect" not in raw:
        raise ValueError("`expect` is missing")
    files = raw.get("files") or []
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and set(f) == {"name", "content_type"} for f in files
    ):
        raise ValueError("`files` must be a list of {name, content_type}")
    offered = raw.get("offered", default_offered)
    if not _is_list_of_str(offered):
        raise ValueError("`offered` must be a list of plan names")
    if question == "plan" and not offered:
        raise ValueError("a plan entry needs the offered plans (`offered`, in the entry or the file)")
    if question != "plan" and "offered" in raw:
        raise ValueError("`offered` belongs to plan entries only")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise ValueError("`note` must be text")
    customer_files = [CustomerFile(name=str(f["name"]), content_type=str(f["content_type"])) for f in files]
    return CorpusEntry(
        question=question,
        file=path.name,
        index=index,
        text=raw["text"],
        files=customer_files,
        expected=_expected(question, raw["expect"], offered, customer_files),
        offered=offered,
        note=note,
    )


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _expected(question: str, expect: Any, offered: list[str], files: list[CustomerFile]) -> Reading:
    if question == "documents":
        names = [f.name for f in files]
        if not _is_list_of_str(expect) or any(name not in names for name in expect):
            raise ValueError("`expect` of a documents entry is the list of the entry's files that are photos")
        return Reading.understood(list(expect))
    if expect == "unclear":
        return Reading.unclear()
    if expect == "person":
        return Reading.person()
    if question in ("yes_no", "acceptance"):
        if not isinstance(expect, bool):
            raise ValueError("`expect` must be true, false, unclear or person")
        return Reading.understood(expect)
    if question == "sim_3g":
        choices = [c.value for c in Sim3GChoice]
        if expect not in choices:
            raise ValueError(f'`expect` must be one of {choices} (quote "no"), unclear or person')
        return Reading.understood(Sim3GChoice(expect))
    if question == "plan":
        if expect not in offered:
            raise ValueError(f"`expect` must be one of the offered plans {offered}, unclear or person")
        return Reading.understood(expect)
    if question == "token":
        fmt = TokenFormat()
        if not isinstance(expect, str) or len(expect) != fmt.length or any(c not in fmt.alphabet for c in expect):
            raise ValueError(f"`expect` must be a code of {fmt.length} capitals of {fmt.alphabet}, unclear or person")
        return Reading.understood(expect)
    if question == "nit":
        if not isinstance(expect, str) or not expect.isdigit():
            raise ValueError('`expect` must be the NIT\'s digits, quoted ("1020304050"), unclear or person')
        return Reading.understood(expect)
    # data
    if expect == "answer":
        return Reading.understood(DataAnswer())
    if isinstance(expect, dict) and set(expect) <= {"nit", "email"}:
        return Reading.understood(DataAnswer(**{k: str(v) for k, v in expect.items()}))
    raise ValueError("`expect` must be answer, {nit: ..., email: ...}, unclear or person")


# ---------------------------------------------------------------------------------------------
# Reading and judging
# ---------------------------------------------------------------------------------------------
def read_entry(entry: CorpusEntry) -> Reading:
    """The entry read by its question's interpreter (documents: the photos among its files)."""
    text = entry.text
    match entry.question:
        case "data":
            return read_data(text)
        case "yes_no":
            return read_yes_no(text)
        case "sim_3g":
            return read_sim_3g(text)
        case "plan":
            return read_plan(text, entry.offered)
        case "documents":
            return Reading.understood([f.name for f in photos_in(entry.files)])
        case "acceptance":
            return read_acceptance(text)
        case "token":
            return read_token(text, TokenFormat())
        case "nit":
            return read_nit(text)
    raise ValueError(f"no interpreter for {entry.question!r}")


_KIND_LABELS = {"data": "answer", "token": "code", "nit": "nit"}


def label(question: str, reading: Reading) -> str:
    if reading.verdict == Verdict.UNCLEAR:
        return "unclear"
    if reading.verdict == Verdict.PERSON:
        return "person"
    if question in _KIND_LABELS:
        return _KIND_LABELS[question]
    if question == "documents":
        return "photos" if reading.value else "no photos"
    value = reading.value
    return str(value.value if isinstance(value, Sim3GChoice) else value)


def _same(question: str, expected: Reading, read: Reading) -> bool:
    if expected.verdict != read.verdict:
        return False
    if question == "documents":
        return isinstance(read.value, list) and sorted(expected.value) == sorted(read.value)
    return bool(expected.value == read.value)


class Misread(BaseModel):
    file: str
    index: int
    text: str
    expected: str
    read: str
    note: str | None = None


class QuestionReport(BaseModel):
    question: str
    messages: int = 0
    labels: list[str] = []
    #: expected label -> read label -> messages
    matrix: dict[str, dict[str, int]] = {}
    right: int = 0
    clear: int = 0
    clear_right: int = 0
    read_unclear: int = 0
    false_yes: int | None = None
    false_acceptance: int | None = None
    false_tokens: int | None = None
    misreads: list[Misread] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clear_accuracy(self) -> float:
        return self.clear_right / self.clear if self.clear else 1.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unclear_rate(self) -> float:
        return self.read_unclear / self.messages if self.messages else 0.0


class CorpusReport(BaseModel):
    questions: list[QuestionReport]
    messages: int
    clear: int
    clear_right: int
    read_unclear: int
    false_yes: int
    false_acceptance: int
    false_tokens: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clear_accuracy(self) -> float:
        return self.clear_right / self.clear if self.clear else 1.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unclear_rate(self) -> float:
        return self.read_unclear / self.messages if self.messages else 0.0


def evaluate(entries: list[CorpusEntry], read: Callable[[CorpusEntry], Reading] = read_entry) -> CorpusReport:
    """Read every entry with ``read`` (the interpreters unless told) and count, per question."""
    reports: dict[str, QuestionReport] = {}
    for entry in entries:
        q = reports.setdefault(entry.question, _new_report(entry.question))
        got = read(entry)
        expected_label = label(entry.question, entry.expected)
        read_label = label(entry.question, got)
        right = _same(entry.question, entry.expected, got)
        if not right and read_label == expected_label:
            read_label = f"other {read_label}"
        q.messages += 1
        q.matrix.setdefault(expected_label, {})
        q.matrix[expected_label][read_label] = q.matrix[expected_label].get(read_label, 0) + 1
        for name in (expected_label, read_label):
            if name not in q.labels:
                q.labels.append(name)
        q.right += right
        q.read_unclear += got.verdict == Verdict.UNCLEAR
        if entry.expected.verdict != Verdict.UNCLEAR:
            q.clear += 1
            q.clear_right += right
        if not right:
            q.misreads.append(
                Misread(
                    file=entry.file,
                    index=entry.index,
                    text=entry.text,
                    expected=expected_label,
                    read=read_label,
                    note=entry.note,
                )
            )
        if q.false_yes is not None and _false_yes(entry, got):
            q.false_yes += 1
        if q.false_acceptance is not None and got.understood and got.value is True and not right:
            q.false_acceptance += 1
        if q.false_tokens is not None and got.understood and not right:
            q.false_tokens += 1
    ordered = [reports[q] for q in QUESTIONS if q in reports]
    for q in ordered:
        q.labels = _ordered_labels(q.labels)
    return CorpusReport(
        questions=ordered,
        messages=sum(q.messages for q in ordered),
        clear=sum(q.clear for q in ordered),
        clear_right=sum(q.clear_right for q in ordered),
        read_unclear=sum(q.read_unclear for q in ordered),
        false_yes=sum(q.false_yes or 0 for q in ordered),
        false_acceptance=sum(q.false_acceptance or 0 for q in ordered),
        false_tokens=sum(q.false_tokens or 0 for q in ordered),
    )


def _new_report(question: str) -> QuestionReport:
    report = QuestionReport(question=question)
    if question in ("yes_no", "sim_3g"):
        report.false_yes = 0
    if question == "acceptance":
        report.false_acceptance = 0
    if question == "token":
        report.false_tokens = 0
    return report


def _false_yes(entry: CorpusEntry, got: Reading) -> bool:
    if not got.understood:
        return False
    if entry.question == "yes_no":
        return got.value is True and not (entry.expected.understood and entry.expected.value is True)
    agreed = (Sim3GChoice.RECOVER, Sim3GChoice.NEW_LINE)
    return got.value in agreed and not (entry.expected.understood and entry.expected.value == got.value)


def _ordered_labels(labels: list[str]) -> list[str]:
    """Values first (as met), then "other …", "unclear", "person"."""
    tail = ["unclear", "person"]
    values = [x for x in labels if x not in tail and not x.startswith("other ")]
    others = [x for x in labels if x.startswith("other ")]
    return values + others + [x for x in tail if x in labels]


def check(report: CorpusReport, min_accuracy: float = MIN_CLEAR_ACCURACY) -> list[str]:
    """What keeps the report from the bar (empty when it meets it)."""
    problems = []
    if report.false_yes:
        problems.append(f"{report.false_yes} false yes")
    if report.false_acceptance:
        problems.append(f"{report.false_acceptance} false acceptance")
    if report.false_tokens:
        problems.append(f"{report.false_tokens} false tokens")
    if report.clear_accuracy < min_accuracy:
        problems.append(f"clear accuracy {report.clear_accuracy:.1%} < {min_accuracy:.0%} overall")
    for q in report.questions:
        if q.clear_accuracy < min_accuracy:
            problems.append(f"clear accuracy {q.clear_accuracy:.1%} < {min_accuracy:.0%} for {q.question}")
    return problems


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _figures(q: QuestionReport | CorpusReport) -> str:
    parts = [
        f"clear accuracy {q.clear_accuracy:.1%} ({q.clear_right}/{q.clear})",
        f"unclear rate {q.unclear_rate:.1%} ({q.read_unclear}/{q.messages})",
    ]
    for name, value in (
        ("false yes", q.false_yes),
        ("false acceptance", q.false_acceptance),
        ("false tokens", q.false_tokens),
    ):
        if value is not None:
            parts.append(f"{name} {value}")
    return ", ".join(parts)


def render(report: CorpusReport) -> str:
    """The matrices as plain text tables (rows: expected, columns: read), the misreads and the figures."""
    lines: list[str] = []
    for q in report.questions:
        lines.append(f"{q.question}: {QUESTIONS[q.question]} ({q.messages} messages)")
        expected = [name for name in q.labels if name in q.matrix]
        rows = [[name, *(str(q.matrix[name].get(col, 0) or ".") for col in q.labels)] for name in expected]
        lines.extend("  " + line for line in _table(["expected \\ read", *q.labels], rows))
        lines.append("  " + _figures(q))
        for miss in q.misreads:
            note = f"  ({miss.note})" if miss.note else ""
            lines.append(
                f"  ✗ {miss.file}#{miss.index} {miss.text!r}: expected {miss.expected}, read {miss.read}{note}"
            )
        lines.append("")
    summary = [
        [
            q.question,
            str(q.messages),
            f"{q.clear_accuracy:.1%}",
            f"{q.unclear_rate:.1%}",
            "-" if q.false_yes is None else str(q.false_yes),
            "-" if q.false_acceptance is None else str(q.false_acceptance),
            "-" if q.false_tokens is None else str(q.false_tokens),
        ]
        for q in report.questions
    ]
    summary.append(
        [
            "overall",
            str(report.messages),
            f"{report.clear_accuracy:.1%}",
            f"{report.unclear_rate:.1%}",
            str(report.false_yes),
            str(report.false_acceptance),
            str(report.false_tokens),
        ]
    )
    header = ["question", "messages", "clear accuracy", "unclear rate", "false yes", "false acceptance", "false tokens"]
    lines.extend(_table(header, summary))
    problems = check(report)
    lines.append("")
    lines.append("bar met" if not problems else "bar not met: " + "; ".join(problems))
    return "\n".join(lines)
