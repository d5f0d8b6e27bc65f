"""The package managers that install a plugin's UI, one module each (see base.PackageManager); the registry
of them is link.package_managers.MANAGERS."""
