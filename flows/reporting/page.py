"""The run report: one HTML page per flow that a person would rather read than the logs.

``<run_dir>/reports/<flow_id>.html`` shows the process drawn as a graph with the path the run took
highlighted, every recorded step with its duration, attempts and outcome, the evidence thumbnails with
their sha256 and the internal note they went to, and, for a failed step, the console's last screenshot
and the Playwright trace (copied next to the report, with the command that opens it). The page is one
self-contained file: images are inline, the graph is inline SVG laid out here, nothing is fetched.
``<run_dir>/reports/index.html`` lists every run in the store and is rewritten with each report.

The run store is the source; DBOS's record of the same flow adds what the store does not keep (which
macro a step applied, how long the flow waited for the customer). Without it the report is still whole.

The CI photos and selfie the customer sends are personal data: they are listed by name and sha256 only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import re
import shutil
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from loguru import logger
from PIL import Image
from sqlalchemy import select

from pages.errors import RecordNotFound

from flows.process.definition import EDGES, Activity
from flows.engine.run_store import FlowRun, RunStore, StepRecord, flow_runs
from flows.engine.settings import Settings

#: Bump when the page changes, so reports written by an older version count as stale.
REPORT_VERSION = "1"
THUMB_WIDTH = 240
#: The folder (under the ticket's evidence folder) where the customer's own documents are kept.
CUSTOMER_FOLDER = "cliente"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# =============================================================================================
# Public API
# =============================================================================================
def reports_dir(settings: Settings) -> Path:
    return settings.run_dir / "reports"


def report_file(settings: Settings, flow_id: str) -> Path:
    return reports_dir(settings) / f"{_safe(flow_id)}.html"


def report_path(settings: Settings, ticket_id: int) -> Path:
    """The report of the ticket's latest flow, written first if it is missing or older than the run."""
    store = RunStore(settings.store_url())
    try:
        run = _latest_run(store, ticket_id)
        if run is None:
            raise RecordNotFound(f"no flow has run for ticket {ticket_id} (start one with: "
                                 f"rpa flow start migration --ticket {ticket_id})")
        path = report_file(settings, run.flow_id)
        steps = store.steps(run.flow_id)
        if _written_key(path) != _key(run, steps):
            path = write_report(settings, run.flow_id, store=store)
        return path
    finally:
        store.dispose()


def index_path(settings: Settings) -> Path:
    """The index of every run in the store, rewritten now."""
    store = RunStore(settings.store_url())
    try:
        return write_index(settings, store)
    finally:
        store.dispose()


def write_report(settings: Settings, flow_id: str, *, store: RunStore | None = None) -> Path:
    """Write the flow's report and the index; returns the report's path."""
    own = store is None
    store = store or RunStore(settings.store_url())
    try:
        run = store.flow(flow_id)
        if run is None:
            raise RecordNotFound(f"no flow {flow_id!r} in the run store")
        steps = store.steps(flow_id)
        path = report_file(settings, flow_id)
        page = _render_report(settings, run, steps, path)
        _write_atomically(path, page)
        write_index(settings, store)
        return path
    finally:
        if own:
            store.dispose()


def write_quietly(settings: Settings, flow_id: str, store: RunStore | None = None) -> Path | None:
    """Write the report at the end of a run; a report that cannot be written never fails the flow."""
    try:
        path = write_report(settings, flow_id, store=store)
        logger.info("run report of {} written to {}", flow_id, path)
        return path
    except Exception:  # noqa: BLE001 - the report is a by-product: log it, never fail the flow for it
        logger.exception("could not write the run report of {}", flow_id)
        return None


def write_index(settings: Settings, store: RunStore) -> Path:
    folder = reports_dir(settings)
    rows = []
    for run in store.flows(limit=100_000):
        report = report_file(settings, run.flow_id)
        rows.append({
            "run": run,
            "state": _state(run.state),
            "outcome": _outcome_label(run.outcome),
            "started": _when(run.started_at),
            "duration": _duration(_elapsed(run)),
            "href": report.name if report.exists() else None,
        })
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["state"]["label"]] += 1
    page = _templates.get_template("index.html").render(
        rows=rows, counts=dict(counts), generated=_when(_now()), folder=str(folder.resolve()))
    path = folder / "index.html"
    _write_atomically(path, page)
    return path


# =============================================================================================
# The process graph: a layered drawing of flows.process.definition, computed here (no graphviz, no JS)
# =============================================================================================
NODE_W, NODE_H = 204, 42
DUMMY_W = 8
NODE_GAP, DUMMY_GAP = 30, 14
LAYER_GAP = 58
MARGIN = 28
LABEL_FONT_PX = 10.5
LABEL_CHAR_PX = 5.7


@dataclass
class GraphNode:
    id: str
    activity: str
    number: str
    lines: list[str]
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H
    terminal: bool = False
    on_path: bool = False
    visits: list[int] = field(default_factory=list)
    mark: str | None = None          # "final", "failed", "waiting", "current"
    mark_label: str = ""

    @property
    def classes(self) -> str:
        parts = ["node", "on-path" if self.on_path else "off-path"]
        if self.terminal:
            parts.append("terminal")
        if self.mark:
            parts.append(self.mark)
        return " ".join(parts)


@dataclass
class GraphEdge:
    id: str
    source: str
    target: str
    d: str
    label: str = ""
    label_x: float = 0
    label_y: float = 0
    label_w: float = 0
    on_path: bool = False
    extra: bool = False              # a transition this run made that the process graph does not draw

    @property
    def classes(self) -> str:
        parts = ["edge", "on-path" if self.on_path else "off-path"]
        if self.extra:
            parts.append("extra")
        return " ".join(parts)


@dataclass
class ProcessGraph:
    width: float
    height: float
    nodes: list[GraphNode]
    edges: list[GraphEdge]


Point = tuple[float, float]


def process_graph(path: list[str], final_mark: str | None = None, final_label: str = "") -> ProcessGraph:
    """The process drawn in layers, with the nodes of ``path`` and the edges between them highlighted."""
    layout = _layout()
    by_value = {a.value: a.name for a in Activity}
    path_names = [by_value.get(a, a) for a in path]
    visits: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(path_names, start=1):
        visits[name].append(i)
    nodes = {name: GraphNode(**{**vars(node), "visits": visits.get(name, []), "on_path": name in visits})
             for name, node in layout.nodes.items()}
    if path_names and final_mark and path_names[-1] in nodes:
        last = nodes[path_names[-1]]
        last.mark, last.mark_label = final_mark, final_label

    taken = set(zip(path_names, path_names[1:]))
    edges = [GraphEdge(**{**vars(edge), "on_path": (edge.source, edge.target) in taken}) for edge in layout.edges]
    drawn = {(e.source, e.target) for e in edges}
    for a, b in sorted(taken - drawn):
        if a in nodes and b in nodes and a != b:
            edges.append(GraphEdge(id=f"edge-{a}-{b}", source=a, target=b, on_path=True, extra=True,
                                   d=_svg_path(_direct_route(nodes[a], nodes[b]))))
    edges.sort(key=lambda e: e.on_path)  # highlighted edges last, drawn over the others
    return ProcessGraph(width=layout.width, height=layout.height, nodes=list(nodes.values()), edges=edges)


@functools.lru_cache(maxsize=1)
def _layout() -> _Layout:
    """The process's graph laid out once per process (longest-path layers from the start).

    Edges that skip layers run through invisible waypoints, the order within each layer is chosen to
    cross as few edges as possible, and each node sits near the middle of its neighbours.
    """
    names = [a.name for a in Activity]
    edges = [(a.name, b.name, label) for a, b, label in EDGES]
    drawn = _acyclic(names, edges)
    layer = _layering(names, drawn)

    chains: list[list[str]] = []
    layer_of: dict[str, int] = dict(layer)
    for i, (a, b, _) in enumerate(drawn):
        chain = [a]
        for step in range(layer[a] + 1, layer[b]):
            dummy = f"~{i}.{step}"
            layer_of[dummy] = step
            chain.append(dummy)
        chains.append(chain + [b])
    up: dict[str, list[tuple[str, float]]] = defaultdict(list)
    down: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for chain in chains:
        for u, v in zip(chain, chain[1:]):
            weight = 8.0 if _dummy(u) and _dummy(v) else 2.0 if _dummy(u) or _dummy(v) else 1.0
            down[u].append((v, weight))
            up[v].append((u, weight))

    layers = _initial_order(names, layer_of, down)
    layers = _reduce_crossings(layers, up, down)
    xs = _coordinates(layers, up, down)
    ys = {n: MARGIN + 14 + layer_of[n] * (NODE_H + LAYER_GAP) for n in layer_of}
    left = min(xs[n] - _width(n) / 2 for n in xs)
    for n in xs:
        xs[n] += MARGIN - left
    width = max(xs[n] + _width(n) / 2 for n in xs) + MARGIN + 60
    height = max(ys.values()) + NODE_H + MARGIN

    sources = {a for a, _, _ in drawn}
    nodes: dict[str, GraphNode] = {}
    for activity in Activity:
        number, text = _split_number(activity.value)
        nodes[activity.name] = GraphNode(
            id=f"node-{activity.name}", activity=activity.value, number=number, lines=_wrap(text, 21),
            x=xs[activity.name], y=ys[activity.name], terminal=activity.name not in sources)
    boxes = [(n.x - n.w / 2, n.y, n.x + n.w / 2, n.y + n.h) for n in nodes.values()]
    placed: list[tuple[float, float, float, float]] = []
    graph_edges: list[GraphEdge] = []
    for (a, b, label), chain in zip(drawn, chains):
        points = _route(chain, xs, ys)
        edge = GraphEdge(id=f"edge-{a}-{b}", source=a, target=b, d=_svg_path(points), label=label)
        if label:
            _place_label(edge, points, boxes, placed)
        graph_edges.append(edge)
    return _Layout(width=round(width), height=round(height), nodes=nodes, edges=graph_edges)


@dataclass
class _Layout:
    width: float
    height: float
    nodes: dict[str, GraphNode]
    edges: list[GraphEdge]


def _dummy(node: str) -> bool:
    return node.startswith("~")


def _width(node: str) -> float:
    return DUMMY_W if _dummy(node) else NODE_W


def _acyclic(nodes: list[str], edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The edges without those that close a cycle (a loop back would make layering impossible)."""
    out: dict[str, list[int]] = defaultdict(list)
    for i, (a, _, _) in enumerate(edges):
        out[a].append(i)
    state: dict[str, int] = {}
    back: set[int] = set()

    def visit(node: str) -> None:
        state[node] = 1
        for i in out[node]:
            target = edges[i][1]
            if state.get(target) == 1:
                back.add(i)
            elif target not in state:
                visit(target)
        state[node] = 2

    for node in nodes:
        if node not in state:
            visit(node)
    return [e for i, e in enumerate(edges) if i not in back]


def _layering(nodes: list[str], edges: list[tuple[str, str, str]]) -> dict[str, int]:
    """Longest-path layers: each node one layer below the furthest of its predecessors."""
    preds: dict[str, list[str]] = defaultdict(list)
    for a, b, _ in edges:
        preds[b].append(a)
    layer: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in layer:
            layer[node] = 0
            layer[node] = max((depth(p) + 1 for p in preds[node]), default=0)
        return layer[node]

    for node in nodes:
        depth(node)
    return layer


def _initial_order(names: list[str], layer_of: dict[str, int],
                   down: dict[str, list[tuple[str, float]]]) -> list[list[str]]:
    """Depth-first from the start, following edges in the order the process lists them."""
    seen: list[str] = []

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.append(node)
        for target, _ in down[node]:
            visit(target)

    for name in names:
        visit(name)
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values()) + 1)]
    for node in seen:
        layers[layer_of[node]].append(node)
    return layers


def _pair_crossings(upper: list[str], lower: list[str], down: dict[str, list[tuple[str, float]]]) -> int:
    pos = {n: i for i, n in enumerate(lower)}
    pairs = [(i, pos[t]) for i, n in enumerate(upper) for t, _ in down[n] if t in pos]
    return sum(1 for k, (a1, b1) in enumerate(pairs) for a2, b2 in pairs[k + 1:] if (a1 - a2) * (b1 - b2) < 0)


def _crossings(layers: list[list[str]], down: dict[str, list[tuple[str, float]]]) -> int:
    return sum(_pair_crossings(u, v, down) for u, v in zip(layers, layers[1:]))


def _reduce_crossings(layers: list[list[str]], up: dict[str, list[tuple[str, float]]],
                      down: dict[str, list[tuple[str, float]]]) -> list[list[str]]:
    """Barycentre sweeps down and up, then swaps of neighbours; the best order seen wins."""
    best = [list(layer) for layer in layers]
    best_count = _crossings(best, down)
    current = [list(layer) for layer in layers]
    for sweep in range(16):
        downward = sweep % 2 == 0
        indexes = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for i in indexes:
            ref = current[i - 1] if downward else current[i + 1]
            neighbours = up if downward else down
            pos = {n: k for k, n in enumerate(ref)}

            def barycentre(item: tuple[int, str], pos: dict[str, int] = pos,
                           neighbours: dict[str, list[tuple[str, float]]] = neighbours) -> float:
                k, node = item
                linked = [pos[m] for m, _ in neighbours[node] if m in pos]
                return sum(linked) / len(linked) if linked else float(k)

            current[i] = [n for _, n in sorted(enumerate(current[i]), key=lambda it: (barycentre(it), it[0]))]
        _transpose(current, down)
        count = _crossings(current, down)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best


def _transpose(layers: list[list[str]], down: dict[str, list[tuple[str, float]]]) -> None:
    """Swap neighbours in a layer while that removes crossings with the layers above and below."""

    def around(i: int) -> int:
        total = _pair_crossings(layers[i - 1], layers[i], down) if i > 0 else 0
        return total + (_pair_crossings(layers[i], layers[i + 1], down) if i + 1 < len(layers) else 0)

    improved = True
    while improved:
        improved = False
        for i, layer in enumerate(layers):
            for k in range(len(layer) - 1):
                before = around(i)
                layer[k], layer[k + 1] = layer[k + 1], layer[k]
                if around(i) < before:
                    improved = True
                else:
                    layer[k], layer[k + 1] = layer[k + 1], layer[k]


def _coordinates(layers: list[list[str]], up: dict[str, list[tuple[str, float]]],
                 down: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    """x of each node: as near the weighted middle of its neighbours as the order and spacing allow."""
    xs: dict[str, float] = {}
    for layer in layers:
        x = 0.0
        for k, node in enumerate(layer):
            if k:
                x += _gap(layer[k - 1], node)
            xs[node] = x
        shift = x / 2
        for node in layer:
            xs[node] -= shift

    def settle(layer: list[str], neighbours: list[dict[str, list[tuple[str, float]]]]) -> None:
        desired, weights = [], []
        for node in layer:
            linked = [(xs[m], w) for source in neighbours for m, w in source[node]]
            total = sum(w for _, w in linked)
            if total:
                desired.append(sum(x * w for x, w in linked) / total)
                weights.append(total)
            else:
                desired.append(xs[node])
                weights.append(0.05)
        for node, x in zip(layer, _spaced_fit(layer, desired, weights)):
            xs[node] = x

    for _ in range(10):
        for layer in layers[1:]:
            settle(layer, [up])
        for layer in reversed(layers[:-1]):
            settle(layer, [down])
    for _ in range(4):
        for layer in layers:
            settle(layer, [up, down])
    return xs


def _gap(left: str, right: str) -> float:
    gap = DUMMY_GAP if _dummy(left) or _dummy(right) else NODE_GAP
    return (_width(left) + _width(right)) / 2 + gap


def _spaced_fit(layer: list[str], desired: list[float], weights: list[float]) -> list[float]:
    """Least-squares positions in the given order with minimum gaps (pool-adjacent-violators)."""
    offsets = [0.0]
    for left, right in zip(layer, layer[1:]):
        offsets.append(offsets[-1] + _gap(left, right))
    blocks: list[list[float]] = []     # [value, weight, count]
    for d, w, off in zip(desired, weights, offsets):
        blocks.append([d - off, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    values = [v for v, _, count in blocks for _ in range(int(count))]
    return [v + off for v, off in zip(values, offsets)]


def _route(chain: list[str], xs: dict[str, float], ys: dict[str, float]) -> list[Point]:
    points: list[Point] = [(xs[chain[0]], ys[chain[0]] + NODE_H)]
    for node in chain[1:-1]:
        points += [(xs[node], ys[node]), (xs[node], ys[node] + NODE_H)]
    points.append((xs[chain[-1]], ys[chain[-1]] - 3))
    return points


def _direct_route(a: GraphNode, b: GraphNode) -> list[Point]:
    if abs(a.y - b.y) < 1:
        side = 1 if b.x > a.x else -1
        return [(a.x + side * a.w / 2, a.y + a.h / 2), (b.x - side * (b.w / 2 + 3), b.y + b.h / 2)]
    if b.y > a.y:
        return [(a.x, a.y + a.h), (b.x, b.y - 3)]
    return [(a.x, a.y), (b.x, b.y + b.h + 3)]


def _svg_path(points: list[Point]) -> str:
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    px, py = x0, y0
    for x, y in rest:
        if abs(x - px) < 0.5 and y > py:
            parts.append(f"L{x:.1f},{y:.1f}")
        elif abs(y - py) < 1:
            bend = 26
            parts.append(f"C{px:.1f},{py + bend:.1f} {x:.1f},{y + bend:.1f} {x:.1f},{y:.1f}")
        else:
            mid = (y - py) / 2
            parts.append(f"C{px:.1f},{py + mid:.1f} {x:.1f},{y - mid:.1f} {x:.1f},{y:.1f}")
        px, py = x, y
    return " ".join(parts)


def _bezier(p: Point, q: Point, t: float) -> Point:
    mid = (q[1] - p[1]) / 2
    c1, c2 = (p[0], p[1] + mid), (q[0], q[1] - mid)
    u = 1 - t
    x = u ** 3 * p[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * q[0]
    y = u ** 3 * p[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * q[1]
    return x, y


def _place_label(edge: GraphEdge, points: list[Point], boxes: list, placed: list) -> None:
    """Put the label on its edge where it covers no node and no other label."""
    w, h = len(edge.label) * LABEL_CHAR_PX + 8, LABEL_FONT_PX + 5
    candidates = [_bezier(points[0], points[1], t) for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.8)]
    for k in range(1, len(points) - 1, 2):      # straight runs through waypoints, further down
        (x, y1), (_, y2) = points[k], points[k + 1]
        candidates += [(x, y1 + (y2 - y1) / 2)]
    candidates += [_bezier(points[-2], points[-1], t) for t in (0.5, 0.35, 0.65)]

    def overlap(cx: float, cy: float) -> float:
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        return sum(_area(box, other) for other in boxes + placed)

    best = min(candidates, key=lambda c: (overlap(*c) > 0, overlap(*c)))
    edge.label_x, edge.label_y, edge.label_w = best[0], best[1], w
    placed.append((best[0] - w / 2, best[1] - h / 2, best[0] + w / 2, best[1] + h / 2))


def _area(a: tuple, b: tuple) -> float:
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _split_number(value: str) -> tuple[str, str]:
    match = re.match(r"^(\d+(?:\.\d+)?[a-z]?)\s+(.*)$", value)
    return (match.group(1), match.group(2)) if match else ("", value)


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line][:2]


# =============================================================================================
# What the page says
# =============================================================================================
STATES = {
    "running": ("en curso", "info"),
    "waiting": ("esperando", "warn"),
    "ended": ("terminado", "ok"),
    "failed": ("falló", "bad"),
}

OUTCOMES = {
    "migrated": "Línea migrada a pospago",
    "incontactable": "Cliente incontactable",
    "datos_incompletos": "Datos del ticket incompletos",
    "derivado_gobierno": "Derivado a Ejecutivos Gobierno (Syshelp)",
    "rechazo_fr_ro": "Rechazo: línea en FR/RO",
    "derivado_portabilidad": "Derivado a portabilidad (Autoagenda)",
    "otra_compania_sin_interes": "Línea de otra compañía, sin interés",
    "recuperacion_sim_pendiente": "Línea 3G: recuperación de SIM pendiente",
    "sim_3g_sin_acuerdo": "Línea 3G: el cliente no acepta",
    "deuda_otra_operadora": "Deuda en otra operadora (MP)",
    "sin_respuesta_oferta": "Sin respuesta a la oferta",
    "revision_documentos_pendiente": "Revisión de documentos pendiente",
    "no_titular": "El cliente no es titular",
    "sin_respuesta_tyc": "Sin respuesta a T&C",
    "no_acepta_tyc": "No acepta T&C",
    "sin_respuesta_token": "Sin respuesta al token",
    "deuda_historica": "Deuda histórica móvil",
    "analistas_sin_respuesta": "Analistas sin respuesta",
    "infactible": "Solicitud infactible",
    "sin_respuesta_subsanacion": "Sin respuesta a la observación",
}

STEP_TITLES = {
    "read_ticket": "Leer el ticket",
    "apply_macro": "Aplicar macro",
    "public_reply": "Respuesta pública",
    "request_document_review": "Pedir revisión de CI y selfie",
    "save_customer_documents": "Guardar documentos del cliente",
    "terms_acceptance_evidence": "Evidencia de aceptación de T&C",
    "plans_image": "Imagen de planes vigentes",
    "preanalysis": "Preanálisis en Planifícate",
    "line_status": "Estado de la línea en Qvantel",
    "confirm_line": "Confirmar línea en Qvantel",
    "lookup_nit": "Consultar NIT en Impuestos",
    "derive_to_government": "Derivar por Syshelp",
    "issue_token": "Generar token en AR",
    "migrate_once": "Migrar en AR",
    "historical_debt": "Deuda histórica en BCCS",
    "change_billing": "Cambiar facturación en BCCS",
    "upload_contract": "Subir contrato digital",
    "print_contract": "Imprimir contrato (PDF)",
    "send_to_analysis": "Enviar contrato a análisis",
    "task_answer": "Leer la tarea de los analistas",
    "answer_task": "Responder la observación",
    "dismiss_task": "Desestimar la tarea",
}

STEP_OUTCOMES = {
    "open": ("ticket Abierto", "neutral"),
    "pending": ("ticket Pendiente", "neutral"),
    "hold": ("ticket En Espera", "neutral"),
    "solved": ("ticket Resuelto", "ok"),
    "new": ("ticket Nuevo", "neutral"),
    "done": ("hecho", "neutral"),
    "yes": ("sí", "neutral"),
    "no": ("no", "neutral"),
    "failed": ("falló", "bad"),
    "eligible": ("apta (AC + LTE)", "ok"),
    "no_result": ("sin resultado", "warn"),
    "migrated": ("migrada", "ok"),
    "refused": ("rechazada por AR", "warn"),
}

PERSONAL_NOTE = "Dato personal del cliente: no se muestra en el informe."


def _state(state: str | None) -> dict[str, str]:
    label, tone = STATES.get(state or "", (state or "?", "neutral"))
    return {"code": state or "", "label": label, "tone": tone}


def _outcome_label(outcome: str | None) -> dict[str, str] | None:
    if not outcome:
        return None
    return {"code": outcome, "label": OUTCOMES.get(outcome, outcome.replace("_", " "))}


def _step_outcome(outcome: str | None) -> dict[str, str]:
    if outcome is None:
        return {"label": "en curso", "tone": "info"}
    label, tone = STEP_OUTCOMES.get(outcome, (outcome.replace("_", " "), "neutral"))
    return {"label": label, "tone": tone}


def _render_report(settings: Settings, run: FlowRun, steps: list[StepRecord], path: Path) -> str:
    assets = path.parent / path.stem
    engine_steps = _engine_steps(settings, run.flow_id)
    rows = _step_rows(steps, engine_steps, assets, path.parent)
    evidence = _evidence_cards(steps, path.parent)
    customer_docs = _customer_documents(settings, run.ticket_id)
    mark, mark_label = {
        "ended": ("final", "fin"),
        "failed": ("failed", "falló aquí"),
        "waiting": ("waiting", "espera aquí"),
        "running": ("current", "aquí ahora"),
    }.get(run.state, (None, ""))
    if run.state == "ended" and run.outcome == "migrated":
        mark = "final success"
    graph = process_graph(run.path, mark, mark_label)
    failed = [r for r in rows if r["failed"]]
    ended = _finished(run)
    return _templates.get_template("report.html").render(
        key=_key(run, steps),
        run=run,
        state=_state(run.state),
        outcome=_outcome_label(run.outcome),
        started=_when(run.started_at),
        ended=_when(run.updated_at) if ended else None,
        duration=_duration(_elapsed(run)),
        graph=graph,
        rows=rows,
        failed=failed,
        evidence=evidence,
        customer_docs=customer_docs,
        notes=sorted({c["note_id"] for c in evidence if c["note_id"]}),
        retries=sum(max(s.attempts - 1, 0) for s in steps),
        step_count=len(steps),
        path_labels=run.path,
        generated=_when(_now()),
        index_href="index.html",
        personal_note=PERSONAL_NOTE,
    )


def _step_rows(steps: list[StepRecord], engine_steps: dict[int, dict], assets: Path, base: Path) -> list[dict]:
    """The table's rows: recorded steps, the waits between them, runs of identical polls folded."""
    items: list[tuple[int, dict]] = []
    longest = max((s.seconds or 0 for s in steps), default=0) or 1
    by_seq = {s.seq: s for s in steps}
    for step in steps:
        info = engine_steps.get(step.seq, {})
        outcome = _step_outcome(step.outcome)
        row = {
            "kind": "step", "seq": step.seq, "name": step.name, "title": STEP_TITLES.get(step.name, step.name),
            "detail": _detail(step, info.get("output")), "activity": step.activity or "",
            "started": _when(step.started_at), "seconds": step.seconds,
            "duration": _duration(step.seconds), "bar": min(100, 100 * (step.seconds or 0) / longest),
            "attempts": step.attempts, "outcome": outcome, "error": step.error,
            "failed": step.outcome == "failed", "evidence": len(step.evidence), "count": 1,
            "screenshot": None, "trace": None, "key": step.step_key,
        }
        if row["failed"]:
            row["screenshot"], row["trace"] = _failure_assets(step, assets, base)
        items.append((step.seq, row))
    for seq in sorted(engine_steps):
        info = engine_steps[seq]
        if info.get("function_name") != "DBOS.recv":
            continue
        before = max((s for s in by_seq if s < seq), default=None)
        if before is not None and by_seq[before].name == "task_answer":
            continue  # the analysts' inbox is polled: the folded poll row tells that story
        items.append((seq, _wait_row(seq, info, by_seq.get(before))))
    items.sort(key=lambda item: item[0])
    rows = _fold_polls([row for _, row in items])
    for number, row in enumerate(rows, start=1):
        row["number"] = number
    # The activity cell spans the rows of one visit to an activity.
    # A failed step has a second row under it, with its screenshot and trace.
    span_start = None
    for row in rows:
        height = 2 if row["failed"] else 1
        if span_start is not None and row["activity"] == span_start["activity"]:
            span_start["span"] += height
            row["span"] = 0
        else:
            row["span"] = height
            span_start = row
    return rows


def _wait_row(seq: int, info: dict, before: StepRecord | None) -> dict:
    started, ended = info.get("started_at_epoch_ms"), info.get("completed_at_epoch_ms")
    seconds = (ended - started) / 1000 if started and ended else None
    output = info.get("output")
    if isinstance(output, dict) and "approve" in output:
        title, outcome = "Espera: revisión de una persona", ("aprobado" if output["approve"] else "rechazado")
    elif isinstance(output, dict) and "comment_id" in output:
        title = "Espera: respuesta del cliente"
        outcome = "respondió" + (" con adjuntos" if output.get("attachments") else "")
    elif isinstance(output, dict):
        title, outcome = "Espera: aviso", "recibido"
    else:
        title, outcome = "Espera", "sin respuesta en el plazo"
    return {
        "kind": "wait", "seq": seq, "name": "DBOS.recv", "title": title, "detail": None,
        "activity": before.activity if before and before.activity else "",
        "started": _when(datetime.fromtimestamp(started / 1000, timezone.utc)) if started else "",
        "seconds": seconds, "duration": _duration(seconds), "bar": 0, "attempts": None,
        "outcome": {"label": outcome, "tone": "neutral" if output is not None else "warn"},
        "error": None, "failed": False, "evidence": 0, "count": 1, "screenshot": None, "trace": None,
        "key": f"wait-{seq}",
    }


def _fold_polls(rows: list[dict]) -> list[dict]:
    """Three or more identical quiet steps in a row (the analysts' inbox read every minute) become one."""
    folded: list[dict] = []
    for row in rows:
        last = folded[-1] if folded else None
        if (last and row["kind"] == "step" and last["kind"] == "step" and row["name"] == last["name"]
                and row["name"] == "task_answer" and row["outcome"] == last["outcome"] and not row["failed"]):
            last["count"] += 1
            last["seconds"] = (last["seconds"] or 0) + (row["seconds"] or 0)
            last["duration"] = _duration(last["seconds"])
            last["attempts"] += row["attempts"]
            last["title"] = f"{STEP_TITLES['task_answer']} (×{last['count']})"
            continue
        folded.append(row)
    return folded


def _detail(step: StepRecord, output: Any) -> str | None:
    """One line of what the step did, from its result as DBOS kept it (no customer text)."""
    if output is None:
        return None
    if step.name == "apply_macro" and hasattr(output, "title"):
        title = output.title.split("::")
        short = "::".join(title[-2:]) if len(title) > 1 else output.title
        state = f" · Estado de Pedido: {output.order_state}" if getattr(output, "order_state", None) else ""
        return f"{short}{state}"
    if step.name == "upload_contract" and isinstance(output, str):
        return f"contrato {output}"
    if step.name == "send_to_analysis" and hasattr(output, "task_number"):
        return f"contrato {output.contract_number}, tarea {output.task_number}"
    if step.name == "migrate_once" and getattr(output, "message", ""):
        return output.message
    if step.name == "derive_to_government" and isinstance(output, str):
        return f"derivación Syshelp {output}"
    if step.name == "request_document_review" and isinstance(output, int):
        return f"nota interna #{output}"
    if step.name == "save_customer_documents" and isinstance(output, list):
        return f"{len(output)} archivo(s) en {CUSTOMER_FOLDER}/"
    if step.name == "lookup_nit" and hasattr(output, "is_government"):
        return "entidad de gobierno" if output.is_government else "no es entidad de gobierno"
    if step.name == "task_answer" and getattr(output, "reason", None):
        return output.reason
    return None


def _failure_assets(step: StepRecord, assets: Path, base: Path) -> tuple[dict | None, dict | None]:
    """Copy the failed step's screenshot and trace next to the report, so its links work from disk."""
    screenshot = trace = None
    if step.screenshot and Path(step.screenshot).is_file():
        copy = _copy_into(Path(step.screenshot), assets)
        screenshot = {"href": _rel(copy, base), "thumb": _thumbnail(copy), "path": str(copy.resolve())}
    if step.trace and Path(step.trace).is_file():
        copy = _copy_into(Path(step.trace), assets)
        trace = {"href": _rel(copy, base), "path": str(copy.resolve()), "original": step.trace,
                 "command": f"playwright show-trace {_shell_quote(str(copy.resolve()))}",
                 "size": _size(copy.stat().st_size)}
    return screenshot, trace


def _evidence_cards(steps: list[StepRecord], base: Path) -> list[dict]:
    cards = []
    for step in steps:
        for item in step.evidence:
            file = Path(item.file)
            exists = file.is_file()
            actual = _sha256(file) if exists else None
            personal = _is_personal(file)
            kind = "personal" if personal else "pdf" if file.suffix.lower() == ".pdf" else (
                "image" if file.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif") else "file")
            cards.append({
                "name": file.name, "href": _rel(file, base) if exists and not personal else None,
                "sha256": item.sha256, "verified": actual == item.sha256 if exists else None,
                "portal": item.portal, "description": item.description, "note_id": item.note_id,
                "public": item.public, "step": STEP_TITLES.get(step.name, step.name), "seq": step.seq,
                "kind": kind, "thumb": _thumbnail(file) if kind == "image" and exists else None,
                "size": _size(file.stat().st_size) if exists else "falta el archivo",
            })
    return cards


def _customer_documents(settings: Settings, ticket_id: int) -> list[dict]:
    folder = settings.evidence_dir / f"ticket-{ticket_id}" / CUSTOMER_FOLDER
    if not folder.is_dir():
        return []
    return [{"name": f.name, "sha256": _sha256(f), "size": _size(f.stat().st_size)}
            for f in sorted(folder.iterdir()) if f.is_file() and not f.name.endswith(".json")]


def _is_personal(file: Path) -> bool:
    return CUSTOMER_FOLDER in file.parts[:-1]


def _engine_steps(settings: Settings, flow_id: str) -> dict[int, dict]:
    """DBOS's record of the flow's steps (outputs, waits); empty when it cannot be read."""
    try:
        from dbos import DBOSClient

        client = DBOSClient(system_database_url=settings.system_database_url())
        try:
            return {int(s["function_id"]): dict(s) for s in client.list_workflow_steps(flow_id)}
        finally:
            client.destroy()
    except Exception as exc:  # noqa: BLE001 - the store alone still makes a whole report
        logger.debug("report of {} without DBOS step details: {}", flow_id, exc)
        return {}


# =============================================================================================
# Small helpers
# =============================================================================================
def _latest_run(store: RunStore, ticket_id: int) -> FlowRun | None:
    with store.engine.connect() as db:
        row = db.execute(select(flow_runs).where(flow_runs.c.ticket_id == ticket_id)
                         .order_by(flow_runs.c.started_at.desc()).limit(1)).mappings().first()
    return FlowRun(**row) if row else None


def _key(run: FlowRun, steps: list[StepRecord]) -> str:
    """A fingerprint of what the report shows: a report with another one is stale.

    The watcher may still touch a run just after it ended (its ``watch_after`` mark, hence ``updated_at``);
    that changes nothing the report shows about a finished run.
    """
    shown = run.model_dump(mode="json", exclude={"watch_after"} | ({"updated_at"} if _finished(run) else set()))
    data = json.dumps([REPORT_VERSION, shown, [s.model_dump(mode="json") for s in steps]], sort_keys=True,
                      default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


_KEY = re.compile(r'<meta name="rpa-report-key" content="([0-9a-f]+)"')


def _written_key(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    match = _KEY.search(head)
    return match.group(1) if match else None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def _copy_into(file: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    if not target.exists() or target.stat().st_size != file.stat().st_size:
        shutil.copy2(file, target)
    return target


def _thumbnail(file: Path) -> str | None:
    """A small copy of an image as a data: URI (the report carries its thumbnails inside)."""
    try:
        with Image.open(file) as image:
            image = image.convert("RGB")
            if image.width > THUMB_WIDTH:
                image = image.resize((THUMB_WIDTH, max(1, round(image.height * THUMB_WIDTH / image.width))),
                                     Image.LANCZOS)
            image = image.crop((0, 0, image.width, min(image.height, THUMB_WIDTH * 2)))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=82, optimize=True)
    except Exception as exc:  # noqa: BLE001 - a broken image shows as a file, not as a broken report
        logger.debug("no thumbnail for {}: {}", file, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rel(file: Path, base: Path) -> str:
    """A link from the report to a file: relative when they share a root, so the folder can move."""
    try:
        return Path(os.path.relpath(file.resolve(), base.resolve())).as_posix()
    except ValueError:
        return file.resolve().as_uri()


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[\w./@:+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _finished(run: FlowRun) -> bool:
    return run.state in ("ended", "failed")


def _elapsed(run: FlowRun) -> float:
    end = _aware(run.updated_at) if _finished(run) else _now()
    return max(0.0, (end - _aware(run.started_at)).total_seconds())


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = _aware(moment).astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".strip()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"
