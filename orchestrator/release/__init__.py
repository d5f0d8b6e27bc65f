"""Release: a production build of a plugin, its install into the state root, and a package for Omniview."""
