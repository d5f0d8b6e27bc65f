"""plugindev: the development loop for Omniview plugins."""

__version__ = "0.1.0"
