"""Local mock portals that behave like the legacy consoles and Zendesk, over one shared seeded world."""
