"""`plugindev run`: the dev loop (UI part, Go backend part, one coordinator per plugin, .devinfo for the IDE)."""
