"""The Zendesk mock as the servers run it: the Support API and agent page of ``mock_portals.zendesk`` with
the account's webhooks and triggers, incremental exports, rate limits and hosted apps
(``mock_portals.zendesk_apps``) added.

Those build on the Support API's shapes and errors, so they live in modules of their own, and this one
puts them together: their routes served under ``/api/v2`` behind the same authentication, the limits
counted on every API request, and every committed ticket update run through the triggers, then logged
for the ticket event export.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from mock_portals.customer import agent_on_duty
from mock_portals.world import TicketUpdate, World
from mock_portals.zendesk import PORTAL, agent_auth
from mock_portals.zendesk import create_app as create_support_app
from mock_portals.zendesk_apps import add_agent_routes as add_app_routes
from mock_portals.zendesk_apps import api_router as apps_api
from mock_portals.zendesk_exports import api_router as exports_api
from mock_portals.zendesk_exports import log_update
from mock_portals.zendesk_limits import install as install_limits
from mock_portals.zendesk_webhooks import api_router as webhooks_api
from mock_portals.zendesk_webhooks import run_triggers


def create_app(world: World) -> FastAPI:
    app = create_support_app(world)
    install_limits(app, world)
    api = APIRouter(prefix="/api/v2", dependencies=[Depends(agent_auth(world))])
    api.include_router(webhooks_api(world))
    api.include_router(exports_api(world))
    api.include_router(apps_api(world))
    app.include_router(api)
    # The agent page's apps act as the agent on duty, the person the page stands for.
    add_app_routes(app, world, agent_on_duty)

    def on_ticket_update(update: TicketUpdate) -> None:
        try:
            run_triggers(world, update)
        finally:
            # Logged after the triggers ran, so the event shows what they changed too.
            log_update(world, update)

    world.observe_tickets(PORTAL, on_ticket_update)
    return app
