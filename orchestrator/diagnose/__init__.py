"""`plugindev status` and `plugindev doctor`: what runs now, and what on this machine would stop it running."""
