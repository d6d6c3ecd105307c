"""The report's pure parts, without a flow: the graph drawing, the labels, and a report of unknown steps."""

from __future__ import annotations

import re
from collections import defaultdict
from enum import Enum
from types import SimpleNamespace

import pytest

from flows.engine.run_store import RunStore
from flows.engine.settings import Settings
from flows.process.definition import EDGES, Activity
from flows.reporting import graph_layout, labels
from flows.reporting import page as report
from flows.reporting.graph_layout import NODE_GAP, NODE_W, highlight, layout

# A diamond with a shortcut (a -> d skips a layer) and a loop back (d -> a).
NAMES = ["a", "b", "c", "d"]
EDGES_ABCD = [("a", "b", "left"), ("a", "c", "right"), ("b", "d", ""), ("c", "d", ""), ("a", "d", "shortcut"),
              ("d", "a", "again")]


def rows_of(drawing: graph_layout.Layout) -> list[list[str]]:
    """The nodes layer by layer, left to right, as they were placed."""
    rows: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for name, node in drawing.nodes.items():
        rows[node.y].append((node.x, name))
    return [[name for _, name in sorted(row)] for _, row in sorted(rows.items())]


def boxes_overlap(a: tuple, b: tuple) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------
def test_nodes_sit_in_layers_below_their_predecessors_without_overlapping():
    drawing = layout(NAMES, EDGES_ABCD, titles={"a": "1 Start here", "d": "A rather long title that must wrap"})
    nodes = drawing.nodes
    assert list(nodes) == NAMES
    assert nodes["a"].y < nodes["b"].y == nodes["c"].y < nodes["d"].y
    for row in rows_of(drawing):
        for left, right in zip(row, row[1:]):
            assert nodes[right].x - nodes[left].x >= NODE_W + NODE_GAP - 1e-6
    for node in nodes.values():
        assert 0 <= node.x - node.w / 2 and node.x + node.w / 2 <= drawing.width
        assert 0 <= node.y and node.y + node.h <= drawing.height
    assert (nodes["a"].number, nodes["a"].lines, nodes["a"].title) == ("1", ["Start here"], "1 Start here")
    assert nodes["d"].number == "" and len(nodes["d"].lines) == 2
    assert [n for n in NAMES if nodes[n].terminal] == ["d"]  # its loop back is not drawn, so nothing leaves it


def test_a_loop_back_is_not_drawn_and_a_long_edge_bends_through_waypoints():
    drawing = layout(NAMES, EDGES_ABCD)
    ids = [e.id for e in drawing.edges]
    assert ids == ["edge-a-b", "edge-a-c", "edge-b-d", "edge-c-d", "edge-a-d"]
    shortcut = next(e for e in drawing.edges if e.id == "edge-a-d")
    assert shortcut.d.startswith("M") and shortcut.d.count(" L") + shortcut.d.count(" C") >= 3
    assert next(e for e in drawing.edges if e.id == "edge-b-d").d.count(" C") == 1


def test_labels_are_placed_clear_of_the_boxes_and_of_each_other():
    drawing = layout(NAMES, EDGES_ABCD)
    nodes = [(n.x - n.w / 2, n.y, n.x + n.w / 2, n.y + n.h) for n in drawing.nodes.values()]
    labelled = [e for e in drawing.edges if e.label]
    assert [e.label for e in labelled] == ["left", "right", "shortcut"]
    boxes = [(e.label_x - e.label_w / 2, e.label_y - 7, e.label_x + e.label_w / 2, e.label_y + 7) for e in labelled]
    for k, box in enumerate(boxes):
        assert not any(boxes_overlap(box, node) for node in nodes), labelled[k].label
        assert not any(boxes_overlap(box, other) for other in boxes[k + 1:]), labelled[k].label
    assert all(e.label_w == 0 for e in drawing.edges if not e.label)


def test_the_order_within_a_layer_removes_crossings_the_listed_order_would_have():
    names, edges = ["a", "b", "x", "y"], [("a", "x", ""), ("a", "y", ""), ("b", "x", "")]
    assert graph_layout.crossings([["a", "b"], ["x", "y"]], [(a, b) for a, b, _ in edges]) == 1
    drawing = layout(names, edges)
    assert graph_layout.crossings(rows_of(drawing), [(a, b) for a, b, _ in edges]) == 0


def test_the_same_graph_always_gets_the_same_drawing():
    assert layout(NAMES, EDGES_ABCD) == layout(list(NAMES), list(EDGES_ABCD))


def test_an_edge_to_a_node_the_graph_does_not_list_is_refused():
    with pytest.raises(ValueError, match="ghost"):
        layout(["a"], [("a", "ghost", "")])


def test_svg_paths_run_straight_down_and_curve_elsewhere():
    assert graph_layout.svg_path([(10, 0), (10, 50)]) == "M10.0,0.0 L10.0,50.0"
    assert graph_layout.svg_path([(10, 0), (60, 50)]) == "M10.0,0.0 C10.0,25.0 60.0,25.0 60.0,50.0"
    assert graph_layout.svg_path([(10, 5), (60, 5)]).startswith("M10.0,5.0 C10.0,31.0")


# ---------------------------------------------------------------------------------------------
# Highlighting a walk
# ---------------------------------------------------------------------------------------------
def test_a_walk_highlights_its_nodes_and_edges_and_marks_where_it_ended():
    drawing = layout(NAMES, EDGES_ABCD)
    graph = highlight(drawing, ["a", "b", "d", "a", "c"], "failed", "stopped here")
    nodes = {n.id: n for n in graph.nodes}
    assert nodes["node-a"].visits == [1, 4] and nodes["node-c"].visits == [5]
    assert all(n.on_path for n in graph.nodes)
    assert nodes["node-c"].mark == "failed" and nodes["node-c"].classes == "node on-path failed"
    assert nodes["node-d"].classes == "node on-path terminal"
    edges = {e.id: e for e in graph.edges}
    assert edges["edge-a-b"].on_path and edges["edge-a-c"].on_path and not edges["edge-c-d"].on_path
    # d -> a is a step of the walk the drawing has no edge for: drawn dashed, straight up.
    assert edges["edge-d-a"].extra and edges["edge-d-a"].classes == "edge on-path extra"
    assert graph.edges[-1].on_path and not graph.edges[0].on_path  # highlighted edges drawn last, on top
    # The layout is shared by every report: marking a walk leaves it untouched.
    assert not any(n.on_path or n.visits or n.mark for n in drawing.nodes.values())
    assert not any(e.on_path for e in drawing.edges)


def test_a_walk_through_names_the_graph_does_not_know_still_draws():
    graph = highlight(layout(NAMES, EDGES_ABCD), ["a", "gone", "d", "b"], "final", "fin")
    nodes = {n.id: n for n in graph.nodes}
    assert len(nodes) == 4 and nodes["node-b"].mark == "final" and nodes["node-d"].visits == [3]
    assert not any("gone" in e.id for e in graph.edges)
    assert highlight(layout(NAMES, EDGES_ABCD), ["a", "gone"], "final", "fin").nodes[0].mark is None


def test_the_process_graph_draws_every_activity_and_edge_of_the_process():
    path = [Activity.IDENTIFY.value, Activity.NIT_CHECK.value, "An activity that no longer exists",
            Activity.PREANALYSIS.value]
    graph = report.process_graph(path, "current", "aquí ahora")
    nodes = {n.id: n for n in graph.nodes}
    assert set(nodes) == {f"node-{a.name}" for a in Activity}
    assert nodes["node-NIT_CHECK"].title == Activity.NIT_CHECK.value and nodes["node-NIT_CHECK"].visits == [2]
    assert nodes["node-PREANALYSIS"].mark == "current"
    drawn = {(e.source, e.target) for e in graph.edges}
    assert drawn <= {(a.name, b.name) for a, b, _ in EDGES}
    assert {e.id for e in graph.edges if e.on_path} == {"edge-IDENTIFY-NIT_CHECK"}


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------
def test_a_step_the_labels_do_not_know_shows_its_own_name():
    assert labels.step_title("preanalysis") == "Preanálisis en Planifícate"
    assert labels.step_title("a_step_renamed_yesterday") == "a_step_renamed_yesterday"
    assert labels.step_detail("a_step_renamed_yesterday", SimpleNamespace(reason="x")) is None
    assert not labels.polled("a_step_renamed_yesterday") and labels.polled("task_answer")
    assert all(label.title for label in labels.STEPS.values())


def test_a_step_result_of_another_shape_loses_its_detail_not_the_report():
    macro = SimpleNamespace(title="Móvil::WhatsApp::Saludo Inicial::Primer contacto", order_state="Nuevo")
    assert labels.step_detail("apply_macro", macro) == "Saludo Inicial::Primer contacto · Estado de Pedido: Nuevo"
    assert labels.step_detail("apply_macro", "a plain string") is None   # str.title is a method, not a title
    assert labels.step_detail("lookup_nit", SimpleNamespace(is_government=True)) == "entidad de gobierno"
    assert labels.step_detail("save_customer_documents", ["a", "b"]) == "2 archivo(s) en cliente/"
    assert labels.step_detail("migrate_once", SimpleNamespace(message="")) is None
    assert labels.step_detail("upload_contract", None) is None


class Code(str, Enum):
    ENDED = "ended"
    MIGRATED = "migrated"


def test_states_and_outcomes_read_as_codes_or_as_their_enums():
    assert labels.state(Code.ENDED) == {"code": "ended", "label": "terminado", "tone": "ok"}
    assert labels.state(None) == {"code": "", "label": "?", "tone": "neutral"}
    assert labels.state("paused") == {"code": "paused", "label": "paused", "tone": "neutral"}
    assert labels.outcome(Code.MIGRATED) == {"code": "migrated", "label": "Línea migrada a pospago"}
    assert labels.outcome("algo_nuevo") == {"code": "algo_nuevo", "label": "algo nuevo"} and labels.outcome("") is None
    assert labels.step_outcome(None) == {"label": "en curso", "tone": "info"}
    assert labels.step_outcome("no_result") == {"label": "sin resultado", "tone": "warn"}
    assert labels.step_outcome("odd_outcome") == {"label": "odd outcome", "tone": "neutral"}
    assert labels.run_mark(Code.ENDED, Code.MIGRATED) == ("final success", "fin")
    assert labels.run_mark("failed", None) == ("failed", "falló aquí") and labels.run_mark("new", None) == (None, "")


def test_waits_are_named_by_the_message_that_ended_them():
    assert labels.wait({"approve": False}) == ("Espera: revisión de una persona",
                                                {"label": "rechazado", "tone": "neutral"})
    assert labels.wait({"comment_id": 3, "attachments": [1]})[1]["label"] == "respondió con adjuntos"
    assert labels.wait({"other": 1}) == ("Espera: aviso", {"label": "recibido", "tone": "neutral"})
    assert labels.wait(None) == ("Espera", {"label": "sin respuesta en el plazo", "tone": "warn"})


def test_a_report_of_steps_nobody_labelled_shows_their_names(tmp_path, monkeypatch):
    settings = Settings(run_dir=tmp_path / "runs", evidence_dir=tmp_path / "evidence")
    monkeypatch.setattr(report, "_engine_steps", lambda settings, flow_id: {})
    store = RunStore(settings.store_url())
    try:
        store.flow_started("flow-1", 7, "migration")
        store.enter_activity("flow-1", Activity.IDENTIFY.value)
        for seq, name in enumerate(["brand_new_step", "brand_new_step", "task_answer", "task_answer"], start=1):
            store.step_started("flow-1", f"{seq:04d}-{name}", seq, name, Activity.IDENTIFY.value)
            store.step_ended("flow-1", f"{seq:04d}-{name}", attempts=1, outcome="a_new_outcome")
        path = report.write_report(settings, "flow-1", store=store)
    finally:
        store.dispose()
    html = path.read_text(encoding="utf-8")
    titles = re.findall(r'<div class="title">([^<]*)</div>', html)
    # Only the known poll folds; an unknown step is never assumed to be one.
    assert titles == ["brand_new_step", "brand_new_step", "Leer la tarea de los analistas (×2)"]
    assert "a new outcome" in html and 'data-state="running"' in html
    assert report.report_path(settings, 7) == path
