"""A plugin on disk: its plugin.yaml, `plugindev validate`, and `plugindev scaffold` from the Jinja templates."""
