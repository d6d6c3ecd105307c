"""The bench's naive peer really does the happy path's robot steps, and reply times pair answers with replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from flows.devtools import bench_peer
from flows.devtools.bench import bench_scenario
from flows.process.definition import MACRO_SHORT_NAMES


def test_the_naive_peer_does_every_step_against_the_mocks_with_a_browser_and_a_login_each(mocks):
    ticket_id = 4301

    peer = bench_peer.measure_peer(mocks.urls, ticket_id, latency_ms=0)

    assert [s["step"] for s in peer["steps"]] == list(bench_peer.PEER_STEPS)
    assert peer["skipped"] == []
    assert peer["launches"] == len(bench_peer.PEER_STEPS)
    assert peer["logins"] == 6  # every console step; the two pictures need no console
    assert peer["wall_s"] > 0 and peer["cpu_s"] > 0
    world = httpx.get(mocks.urls["control"] + "/_control/world").json()
    line = world["lines"][bench_scenario([ticket_id], 0)["lines"][0]["number"]]
    assert (line["plan_type"], line["plan"], line["migrations"]) == ("Pospago", peer["plan"], 1)
    [contract] = [c for c in world["records"]["contrato"]["contracts"] if c["number"] == peer["contract_number"]]
    assert contract["state"] == "impreso" and contract["prints"] == 1
    assert {b["kind"] for b in contract["backups"]} >= {"CI anverso", "CI reverso", "Selfie con CI"}
    assert peer["pdf_bytes"] > 0

    rows = bench_peer.peer_rows({}, peer, {"active_s": 5.0, "robot_steps_s": 4.0}, {"one_cpu_per_flow_s": 3.0})
    assert [row["measure"] for row in rows] == ["Naive peer (browser + login per step), 0 ms"]
    assert "8 launches, 6 logins" in rows[0]["detail"] and rows[0]["pass"] is None


def test_each_customer_answer_is_paired_with_the_robots_next_public_comment():
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def said(n: int, author: int, seconds: float, macro: str | None = None, public: bool = True) -> dict:
        at = (start + timedelta(seconds=seconds)).isoformat()
        return {"id": n, "author_id": author, "created_at": at, "macro_title": macro, "public": public}

    primer = MACRO_SHORT_NAMES["primer_contacto"].value
    gestion = MACRO_SHORT_NAMES["gestion"].value
    oferta = MACRO_SHORT_NAMES["oferta_confirmada"].value
    ticket = {
        "requester_id": 7,
        "comments": [
            said(1, 7, 0),  # the opening message, before the robot said anything
            said(2, 1, 5, primer),
            said(3, 7, 6),
            said(4, 1, 6.5, gestion),  # the acknowledgement: the reply the customer sees first
            said(5, 1, 7, public=False),  # an evidence note is no reply
            said(6, 1, 9.5, oferta),
            said(7, 7, 10),
            said(8, 7, 11),  # the answer in two messages: timed from the second
            said(9, 1, 12),
            said(10, 7, 13),  # not answered yet
            # after the flow ended: the floor's replay of its requests, and the customer answering it
            said(11, 1, 20, primer),
            said(12, 7, 21),
            said(13, 1, 22, gestion),
        ],
    }

    pairs = bench_peer._replies(ticket, until=start + timedelta(seconds=13))

    assert [
        (p["step"], (p["replied_at"] - p["answered_at"]).total_seconds(), p["substance"], p["comments"]) for p in pairs
    ] == [
        ("primer_contacto -> gestion", 0.5, "oferta_confirmada", [3, 4]),
        ("oferta_confirmada -> public reply", 1.0, "public reply", [8, 9]),
    ]
    assert (pairs[0]["substance_at"] - pairs[0]["answered_at"]).total_seconds() == 3.5
    assert len(bench_peer._replies(ticket)) == 4  # the replay counted too
    assert bench_peer.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
