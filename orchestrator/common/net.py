"""Where plugindev listens and what it connects to."""

HOST = "127.0.0.1"  # never localhost: the IDE's webview resolves it badly, and it may mean ::1
# Delve's port under `run --debug` (the next free one when taken); the scaffold's .vscode/launch.json attaches there
DEBUG_PORT = 2345
