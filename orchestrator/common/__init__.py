"""Infrastructure every subsystem uses: errors, paths, files, processes, output lines, Node environments."""
