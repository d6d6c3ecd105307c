"""Page objects: one module per legacy console, verbs over locators, Playwright errors turned into ours."""
