"""A layered drawing of a directed graph, computed in Python so the report needs no graphviz and no JS.

The graph comes in as node names and ``(source, target, label)`` edges; what comes out is boxes with
coordinates and SVG paths between them, ready for a template to draw. :func:`layout` does the costly
part once per graph; :func:`highlight` marks one walk through it (a run's path) on a copy of the layout.

Nothing here knows what the nodes stand for: the caller passes the names, their titles and the edges.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

NODE_W, NODE_H = 204, 42
DUMMY_W = 8
NODE_GAP, DUMMY_GAP = 30, 14
LAYER_GAP = 58
MARGIN = 28
LABEL_FONT_PX = 10.5
LABEL_CHAR_PX = 5.7
#: Characters per line of a node's title; longer titles wrap, up to two lines.
TITLE_WIDTH = 21

Point = tuple[float, float]
Box = tuple[float, float, float, float]
#: ``(source, target, label)``; an empty label draws a bare arrow.
Edge = tuple[str, str, str]
#: For each node, the nodes it links to in one direction and the weight of each link.
Links = dict[str, list[tuple[str, float]]]


@dataclass
class GraphNode:
    id: str
    title: str
    number: str
    lines: list[str]
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H
    terminal: bool = False
    on_path: bool = False
    visits: list[int] = field(default_factory=list)
    mark: str | None = None  # a CSS class for the walk's last node, e.g. "final", "failed"
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
    extra: bool = False  # a step of the walk that the graph does not have as an edge

    @property
    def classes(self) -> str:
        parts = ["edge", "on-path" if self.on_path else "off-path"]
        if self.extra:
            parts.append("extra")
        return " ".join(parts)


@dataclass
class Layout:
    """A graph placed on the page, before any walk is marked on it."""

    width: float
    height: float
    nodes: dict[str, GraphNode]
    edges: list[GraphEdge]


@dataclass
class ProcessGraph:
    """A layout with one walk highlighted: what the report's SVG draws."""

    width: float
    height: float
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def layout(names: Sequence[str], edges: Sequence[Edge], titles: Mapping[str, str] | None = None) -> Layout:
    """Lay the graph out in longest-path layers from the nodes that have no predecessor.

    Edges that skip layers run through invisible waypoints, the order within each layer is chosen to
    cross as few edges as possible, and each node sits near the middle of its neighbours. A title such
    as ``"2b Línea en FR/RO"`` shows its leading number in a badge and the rest wrapped in the box.
    The order of ``names`` and ``edges`` breaks ties, so the same graph always gets the same drawing.
    """
    known = set(names)
    unknown = sorted({n for a, b, _ in edges for n in (a, b)} - known)
    if unknown:
        raise ValueError(f"edges between nodes the graph does not list: {', '.join(unknown)}")
    titles = titles or {}
    edges = list(edges)
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
        chains.append([*chain, b])
    up: Links = defaultdict(list)
    down: Links = defaultdict(list)
    for chain in chains:
        for u, v in itertools.pairwise(chain):
            # Long edges pull harder, so they run straight and the nodes move around them.
            weight = 8.0 if _dummy(u) and _dummy(v) else 2.0 if _dummy(u) or _dummy(v) else 1.0
            down[u].append((v, weight))
            up[v].append((u, weight))

    layers = _initial_order(names, layer_of, down)
    layers = _reduce_crossings(layers, up, down)
    xs = _coordinates(layers, up, down)
    ys: dict[str, float] = {n: MARGIN + 14 + layer_of[n] * (NODE_H + LAYER_GAP) for n in layer_of}
    left = min(xs[n] - _width(n) / 2 for n in xs)
    for n in xs:
        xs[n] += MARGIN - left
    width = max(xs[n] + _width(n) / 2 for n in xs) + MARGIN + 60
    height = max(ys.values()) + NODE_H + MARGIN

    sources = {a for a, _, _ in drawn}
    nodes: dict[str, GraphNode] = {}
    for name in names:
        title = titles.get(name, name)
        number, text = _split_number(title)
        nodes[name] = GraphNode(
            id=f"node-{name}",
            title=title,
            number=number,
            lines=_wrap(text, TITLE_WIDTH),
            x=xs[name],
            y=ys[name],
            terminal=name not in sources,
        )
    boxes = [(n.x - n.w / 2, n.y, n.x + n.w / 2, n.y + n.h) for n in nodes.values()]
    placed: list[Box] = []
    graph_edges: list[GraphEdge] = []
    for (a, b, label), chain in zip(drawn, chains, strict=False):
        points = _route(chain, xs, ys)
        edge = GraphEdge(id=f"edge-{a}-{b}", source=a, target=b, d=svg_path(points), label=label)
        if label:
            _place_label(edge, points, boxes, placed)
        graph_edges.append(edge)
    return Layout(width=round(width), height=round(height), nodes=nodes, edges=graph_edges)


def highlight(
    drawing: Layout, path: Sequence[str], final_mark: str | None = None, final_label: str = ""
) -> ProcessGraph:
    """The layout with the nodes of ``path`` and the edges between them highlighted.

    Each node on the path carries the positions (from 1) at which the walk visited it; the last one
    gets ``final_mark`` as an extra CSS class and ``final_label`` as a tag. A step of the walk that the
    graph has no edge for is drawn as an extra, direct edge. Names the layout does not know are skipped,
    so a walk recorded against an older graph still draws. The layout itself is left as it was.
    """
    visits: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(path, start=1):
        visits[name].append(i)
    nodes = {
        name: replace(node, visits=visits.get(name, []), on_path=name in visits) for name, node in drawing.nodes.items()
    }
    if path and final_mark and path[-1] in nodes:
        last = nodes[path[-1]]
        last.mark, last.mark_label = final_mark, final_label

    taken = set(itertools.pairwise(path))
    edges = [replace(edge, on_path=(edge.source, edge.target) in taken) for edge in drawing.edges]
    drawn = {(e.source, e.target) for e in edges}
    for a, b in sorted(taken - drawn):
        if a in nodes and b in nodes and a != b:
            edges.append(
                GraphEdge(
                    id=f"edge-{a}-{b}",
                    source=a,
                    target=b,
                    on_path=True,
                    extra=True,
                    d=svg_path(_direct_route(nodes[a], nodes[b])),
                )
            )
    edges.sort(key=lambda e: e.on_path)  # highlighted edges last, drawn over the others
    return ProcessGraph(width=drawing.width, height=drawing.height, nodes=list(nodes.values()), edges=edges)


def crossings(layers: Sequence[Sequence[str]], edges: Sequence[tuple[str, str]]) -> int:
    """How many pairs of edges cross between neighbouring layers, nodes drawn in the given order."""
    down: Links = defaultdict(list)
    for a, b in edges:
        down[a].append((b, 1.0))
    return _crossings([list(layer) for layer in layers], down)


def svg_path(points: Sequence[Point]) -> str:
    """An SVG path through the points: straight down where it can, smooth curves elsewhere."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    px, py = x0, y0
    for x, y in rest:
        if abs(x - px) < 0.5 and y > py:
            parts.append(f"L{x:.1f},{y:.1f}")
        elif abs(y - py) < 1:
            # Side by side: bow downwards, so the curve leaves and enters the boxes visibly.
            bend = 26
            parts.append(f"C{px:.1f},{py + bend:.1f} {x:.1f},{y + bend:.1f} {x:.1f},{y:.1f}")
        else:
            mid = (y - py) / 2
            parts.append(f"C{px:.1f},{py + mid:.1f} {x:.1f},{y - mid:.1f} {x:.1f},{y:.1f}")
        px, py = x, y
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------
def _dummy(node: str) -> bool:
    return node.startswith("~")


def _width(node: str) -> float:
    return DUMMY_W if _dummy(node) else NODE_W


def _acyclic(nodes: Sequence[str], edges: list[Edge]) -> list[Edge]:
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


def _layering(nodes: Sequence[str], edges: list[Edge]) -> dict[str, int]:
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


# ---------------------------------------------------------------------------------------------
# Order within the layers
# ---------------------------------------------------------------------------------------------
def _initial_order(names: Sequence[str], layer_of: dict[str, int], down: Links) -> list[list[str]]:
    """Depth-first from the start, following edges in the order the graph lists them."""
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


def _pair_crossings(upper: list[str], lower: list[str], down: Links) -> int:
    pos = {n: i for i, n in enumerate(lower)}
    pairs = [(i, pos[t]) for i, n in enumerate(upper) for t, _ in down[n] if t in pos]
    return sum(1 for k, (a1, b1) in enumerate(pairs) for a2, b2 in pairs[k + 1 :] if (a1 - a2) * (b1 - b2) < 0)


def _crossings(layers: list[list[str]], down: Links) -> int:
    return sum(_pair_crossings(u, v, down) for u, v in itertools.pairwise(layers))


def _reduce_crossings(layers: list[list[str]], up: Links, down: Links) -> list[list[str]]:
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

            def barycentre(item: tuple[int, str], pos: dict[str, int] = pos, neighbours: Links = neighbours) -> float:
                k, node = item
                linked = [pos[m] for m, _ in neighbours[node] if m in pos]
                # A node with no neighbour on the reference layer keeps its place.
                return sum(linked) / len(linked) if linked else float(k)

            current[i] = [n for _, n in sorted(enumerate(current[i]), key=lambda it: (barycentre(it), it[0]))]
        _transpose(current, down)
        count = _crossings(current, down)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best


def _transpose(layers: list[list[str]], down: Links) -> None:
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


# ---------------------------------------------------------------------------------------------
# Coordinates
# ---------------------------------------------------------------------------------------------
def _coordinates(layers: list[list[str]], up: Links, down: Links) -> dict[str, float]:
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

    def settle(layer: list[str], neighbours: list[Links]) -> None:
        desired, weights = [], []
        for node in layer:
            linked = [(xs[m], w) for source in neighbours for m, w in source[node]]
            total = sum(w for _, w in linked)
            if total:
                desired.append(sum(x * w for x, w in linked) / total)
                weights.append(total)
            else:
                # Unlinked nodes stay put, but weakly, so linked ones can push them aside.
                desired.append(xs[node])
                weights.append(0.05)
        for node, x in zip(layer, _spaced_fit(layer, desired, weights), strict=False):
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
    for left, right in itertools.pairwise(layer):
        offsets.append(offsets[-1] + _gap(left, right))
    blocks: list[list[float]] = []  # [value, weight, count]
    for d, w, off in zip(desired, weights, offsets, strict=False):
        blocks.append([d - off, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    values = [v for v, _, count in blocks for _ in range(int(count))]
    return [v + off for v, off in zip(values, offsets, strict=False)]


# ---------------------------------------------------------------------------------------------
# Routes and labels
# ---------------------------------------------------------------------------------------------
def _route(chain: list[str], xs: dict[str, float], ys: dict[str, float]) -> list[Point]:
    points: list[Point] = [(xs[chain[0]], ys[chain[0]] + NODE_H)]
    for node in chain[1:-1]:
        points += [(xs[node], ys[node]), (xs[node], ys[node] + NODE_H)]
    # Stop short of the box, so the arrow head is not hidden under its border.
    points.append((xs[chain[-1]], ys[chain[-1]] - 3))
    return points


def _direct_route(a: GraphNode, b: GraphNode) -> list[Point]:
    if abs(a.y - b.y) < 1:
        side = 1 if b.x > a.x else -1
        return [(a.x + side * a.w / 2, a.y + a.h / 2), (b.x - side * (b.w / 2 + 3), b.y + b.h / 2)]
    if b.y > a.y:
        return [(a.x, a.y + a.h), (b.x, b.y - 3)]
    return [(a.x, a.y), (b.x, b.y + b.h + 3)]


def _bezier(p: Point, q: Point, t: float) -> Point:
    """The point at ``t`` on the vertical curve :func:`svg_path` draws from ``p`` to ``q``."""
    mid = (q[1] - p[1]) / 2
    c1, c2 = (p[0], p[1] + mid), (q[0], q[1] - mid)
    u = 1 - t
    x = u**3 * p[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * q[0]
    y = u**3 * p[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * q[1]
    return x, y


def _place_label(edge: GraphEdge, points: list[Point], boxes: list[Box], placed: list[Box]) -> None:
    """Put the label on its edge where it covers no node and no other label."""
    w, h = len(edge.label) * LABEL_CHAR_PX + 8, LABEL_FONT_PX + 5
    candidates = [_bezier(points[0], points[1], t) for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.8)]
    for k in range(1, len(points) - 1, 2):  # straight runs through waypoints, further down
        (x, y1), (_, y2) = points[k], points[k + 1]
        candidates += [(x, y1 + (y2 - y1) / 2)]
    candidates += [_bezier(points[-2], points[-1], t) for t in (0.5, 0.35, 0.65)]

    def overlap(cx: float, cy: float) -> float:
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        return sum(_area(box, other) for other in boxes + placed)

    # Any free spot beats every covered one; among covered ones, the least covered.
    best = min(candidates, key=lambda c: (overlap(*c) > 0, overlap(*c)))
    edge.label_x, edge.label_y, edge.label_w = best[0], best[1], w
    placed.append((best[0] - w / 2, best[1] - h / 2, best[0] + w / 2, best[1] + h / 2))


def _area(a: Box, b: Box) -> float:
    dx = min(a[2], b[2]) - max(a[0], b[0])
    dy = min(a[3], b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _split_number(title: str) -> tuple[str, str]:
    match = re.match(r"^(\d+(?:\.\d+)?[a-z]?)\s+(.*)$", title)
    return (match.group(1), match.group(2)) if match else ("", title)


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
