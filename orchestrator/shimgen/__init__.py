"""`plugindev gen-shims`: the shared list, export discovery, and the generated shims and Vite plugin package."""
