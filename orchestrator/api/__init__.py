"""The control API (aiohttp, 127.0.0.1 only, token-protected) and the event stream the IDE and the dashboard
read: the same events as `run --json`."""
