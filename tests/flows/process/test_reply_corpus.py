"""The labelled corpus of customers' replies (tests/flows/process/corpus) against the interpreters, and the
``rpa replies`` command that prints its confusion matrices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.devtools.corpus import QUESTIONS, CorpusEntry, CorpusError, check, evaluate, load_corpus, render
from flows.interfaces.cli import app
from flows.process.replies import Reading

CORPUS = Path(__file__).parent / "corpus"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def entries() -> list[CorpusEntry]:
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def report(entries):
    return evaluate(entries)


def test_the_corpus_is_large_enough_for_every_question(entries):
    assert len(entries) >= 400
    per_question = {q: sum(e.question == q for e in entries) for q in QUESTIONS}
    assert all(count >= 40 for count in per_question.values()), per_question


def test_the_corpus_has_replies_the_robot_must_not_take_as_answers(entries):
    expected = {(e.question, e.expected.verdict.value) for e in entries}
    for question in QUESTIONS:
        if question != "documents":
            assert {(question, "unclear"), (question, "person"), (question, "understood")} <= expected, question
    # Stickers and voice notes alone, in every question.
    for question in QUESTIONS:
        assert any(e.question == question and not e.text and e.files for e in entries), question


def test_no_false_yes_acceptance_or_token(report):
    assert (report.false_yes, report.false_acceptance, report.false_tokens) == (0, 0, 0), render(report)


def test_clear_accuracy_overall_and_per_question(report):
    assert report.clear_accuracy >= 0.90, render(report)
    for question in report.questions:
        assert question.clear_accuracy >= 0.90, render(report)
    assert check(report) == []


def test_an_interpreter_that_finds_everything_unclear_fails_the_bar(entries):
    report = evaluate(entries, read=lambda entry: Reading.unclear())
    assert report.unclear_rate == 1.0
    assert report.clear_accuracy < 0.90
    assert all(q.clear_accuracy < 0.90 for q in report.questions)
    assert any("clear accuracy" in problem for problem in check(report))


def test_a_confident_interpreter_is_caught_by_the_false_figures(entries):
    def always_yes(entry: CorpusEntry) -> Reading:
        token = {"token": "AB3K7Q"}.get(entry.question, True)
        return Reading.understood(token)

    report = evaluate(entries, read=always_yes)
    assert report.false_yes > 0 and report.false_acceptance > 0 and report.false_tokens > 0
    assert check(report)


# -- rpa replies --------------------------------------------------------------------------------------------
runner = CliRunner()


def test_rpa_replies_prints_the_matrices_and_the_figures(monkeypatch):
    monkeypatch.chdir(REPO)  # the default folder is relative to where the command runs
    result = runner.invoke(app, ["replies"])
    assert result.exit_code == 0, result.output
    assert "expected \\ read" in result.stdout
    for question in QUESTIONS:
        assert f"{question}: " in result.stdout
    assert "overall" in result.stdout and "clear accuracy" in result.stdout and "bar met" in result.stdout


def test_rpa_replies_json():
    result = runner.invoke(app, ["replies", "--corpus", str(CORPUS), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [q["question"] for q in report["questions"]] == list(QUESTIONS)
    assert report["false_yes"] == report["false_acceptance"] == report["false_tokens"] == 0
    assert report["clear_accuracy"] >= 0.90


def test_rpa_replies_refuses_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["replies", "--corpus", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "corpus folder not found" in result.stderr


def test_rpa_replies_names_the_file_and_entry_of_a_malformed_corpus(tmp_path):
    (tmp_path / "yes_no.yaml").write_text('messages:\n  - {text: "si", expect: true}\n  - {text: no, expect: false}\n')
    result = runner.invoke(app, ["replies", "--corpus", str(tmp_path)])
    assert result.exit_code == 2
    assert "yes_no.yaml, entry 2" in result.stderr and "quoted string" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [
        ("plan.yaml", 'messages:\n  - {text: "el de 69", expect: "Mega Plan 69"}\n', "offered plans"),
        ("sim_3g.yaml", 'messages:\n  - {text: "no", expect: no}\n', 'quote "no"'),
        ("token.yaml", 'messages:\n  - {text: "x", expect: "ab3k7q"}\n', "capitals"),
        ("nit.yaml", 'messages:\n  - {text: "NIT 1020304050", expect: 1020304050}\n', "quoted"),
        ("yes_no.yaml", 'messages:\n  - {text: "si", expect: true, lang: es}\n', "unknown keys"),
        ("answers.yaml", "messages: []\n", "no question is named 'answers'"),
        ("data.yaml", "messages: [unclosed\n", "not valid YAML"),
        ("data.yaml", "- {text: hola, expect: unclear}\n", "a list of `messages`"),
    ],
)
def test_a_malformed_corpus_is_a_clear_error(tmp_path, name, content, complaint):
    (tmp_path / name).write_text(content)
    with pytest.raises(CorpusError, match=None) as raised:
        load_corpus(tmp_path)
    assert name in str(raised.value) and complaint in str(raised.value)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no corpus files"):
        load_corpus(tmp_path)
