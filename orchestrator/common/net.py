"""Where plugindev listens and what it connects to."""

HOST = "127.0.0.1"  # never localhost: the IDE's webview resolves it badly, and it may mean ::1
