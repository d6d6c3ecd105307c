"""Placeholder of the bccs mock console until its screens are built."""

from fastapi import FastAPI

from mock_portals.world import World


def create_app(world: World) -> FastAPI:
    app = FastAPI()

    @app.get("/_alive")
    async def alive() -> dict[str, bool]:
        return {"ok": True}

    return app
