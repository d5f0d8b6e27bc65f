"""Tiny npm packages written by the tests, one per kind of module export discovery must handle."""

from __future__ import annotations

import json
from pathlib import Path

PACKAGES: dict[str, dict[str, str]] = {
    "esm-pkg": {
        "package.json": json.dumps({"name": "esm-pkg", "version": "1.0.0", "type": "module", "main": "index.js"}),
        "index.js": "export const b = 1;\nexport function a() {}\nexport class Zed {}\nconst _priv = 2;\n"
                    "export { _priv };\nexport const $dollar = 3;\nexport default 'esm';\n",
    },
    "cjs-pkg": {
        "package.json": json.dumps({"name": "cjs-pkg", "version": "2.0.0", "main": "index.js"}),
        "index.js": "exports.x = 1;\nexports.y = function () {};\n",
    },
    "cjs-reexport": {
        "package.json": json.dumps({"name": "cjs-reexport", "version": "3.0.0", "main": "index.js"}),
        "index.js": "module.exports = require('./impl');\n",
        "impl.js": "exports.alpha = 1;\nexports.beta = 2;\n",
    },
    "default-only": {
        "package.json": json.dumps({"name": "default-only", "version": "4.0.0", "type": "module",
                                    "main": "index.js"}),
        "index.js": "export default function hello() {}\n",
    },
    "dom-touch": {
        "package.json": json.dumps({"name": "dom-touch", "version": "5.0.0", "type": "module", "main": "index.js"}),
        "index.js": "const style = document.createElement('style');\nstyle.textContent = 'a{}';\n"
                    "document.head.appendChild(style);\nwindow.addEventListener('resize', () => {});\n"
                    "export const isMobile = /Mobi/.test(navigator.userAgent);\nexport const sheet = style;\n",
    },
    "browser-only": {
        # no Node entry: only a `browser` condition, and the entry imports CSS
        "package.json": json.dumps({"name": "browser-only", "version": "6.0.0", "type": "module",
                                    "exports": {".": {"browser": "./index.js"}}}),
        "index.js": "import './style.css';\nexport * from './more.js';\nexport const top = 1;\n",
        "more.js": "export const more = 1;\nexport * from './deeper.js';\n",
        "deeper.js": "export const deep = 1;\nexport { deep as default };\n",
        "style.css": "body { color: red; }\n",
    },
}

EXPECTED = {
    "esm-pkg": ("import", ["$dollar", "Zed", "_priv", "a", "b"], "1.0.0"),
    "cjs-pkg": ("import", ["x", "y"], "2.0.0"),
    "cjs-reexport": ("import", ["alpha", "beta"], "3.0.0"),
    "default-only": ("import", [], "4.0.0"),
    "dom-touch": ("import", ["isMobile", "sheet"], "5.0.0"),
    "browser-only": ("static", ["deep", "more", "top"], "6.0.0"),
}


def write_packages(node_modules: Path) -> None:
    for name, files in PACKAGES.items():
        for filename, text in files.items():
            path = node_modules / name / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + ("" if text.endswith("\n") else "\n"))
