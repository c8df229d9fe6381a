"""The demo: everything locally (runner), the chat simulator, the seed data."""
