"""A person's command notes, as the inboxes and ``rpa flow send`` turn them into messages for a flow."""

from __future__ import annotations

import pytest

from flows.process.definition import Macro, macro_named
from flows.process.messages import AgentCommand, agent_note_in


@pytest.mark.parametrize(
    ("body", "command", "text"),
    [
        ("#continuar", AgentCommand.CONTINUE, ""),
        ("  #Continuar  ", AgentCommand.CONTINUE, ""),
        ("#valor Mega Plan 69", AgentCommand.VALUE, "Mega Plan 69"),
        ("#valor: 1020304050\nlo confirmé con el cliente", AgentCommand.VALUE, "1020304050"),
        ("#terminar despedida", AgentCommand.END, "despedida"),
        ("#rechazar Motivo: la selfie no muestra la seña", AgentCommand.REJECT, "la selfie no muestra la seña"),
        ("#aprobar", AgentCommand.APPROVE, ""),
    ],
)
def test_a_note_starting_with_a_command_is_that_command(body, command, text):
    note = agent_note_in(body, author_id=7)
    assert note is not None and note.command == command and note.text == text and note.author_id == 7


@pytest.mark.parametrize(
    "body",
    [
        "El robot necesita un agente: el plan\nResponda con una nota interna que empiece por:\n#valor <valor>",
        "Revisión de documentos requerida: ... '#aprobar anverso=N reverso=N selfie=N'",
        "ya hablé con la clienta, #continuar",
        "#valorar el caso",
        "",
    ],
)
def test_a_note_that_does_not_start_with_a_command_is_not_one(body):
    """The robot's own notes quote the commands; only a note that starts with one is a command."""
    assert agent_note_in(body) is None


def test_the_reviewer_labels_the_photos_by_their_number():
    note = agent_note_in("#aprobar anverso=2, reverso: 1 selfie 3")
    assert note is not None and note.approve
    assert note.labels == {"ci_front": 2, "ci_back": 1, "selfie": 3}
    assert agent_note_in("#rechazar anverso=1").labels == {}


@pytest.mark.parametrize(
    ("name", "macro"),
    [
        ("despedida", Macro.DESPEDIDA),
        (" Cliente_no_contesta ", Macro.CLIENTE_NO_CONTESTA),
        ("DESPEDIDA", Macro.DESPEDIDA),
        ("BO::Despedida al resolver", Macro.DESPEDIDA),
        ("token no contesta", Macro.TOKEN_CLIENTE_NO_CONTESTA),
        ("adios", None),
    ],
)
def test_an_agent_names_a_macro_by_short_name_member_or_title(name, macro):
    assert macro_named(name) == macro
