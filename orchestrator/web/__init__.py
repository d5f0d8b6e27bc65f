"""The browser side of the control API: the dashboard (`/`) and the preview host (`/preview/<id>`)."""
