"""`plugindev link`: a plugin UI installed without touching its files, with the host packages supplied locally."""
