"""YAML whose size once aliases are expanded is bounded.

An alias (`*a`) stands for the whole node it names, so a few hundred bytes of nested aliases describe billions
of values ("billion laughs"): anything that walks, prints or copies the result runs out of time or memory.
`BoundedSafeLoader` counts each node as often as aliases repeat it while composing (cheap: a node's count is
known once it is composed) and refuses a document past `MAX_NODES` values or `MAX_DEPTH` levels, with an
ordinary YAML error naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_NODES = 100_000  # values once aliases are expanded; a plugin.yaml has tens
MAX_DEPTH = 64  # nested lists and mappings; a plugin.yaml has four


class BoundedSafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses documents expanding past MAX_NODES values or nested past MAX_DEPTH."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._expanded: dict[int, int] = {}  # id(node) -> values it stands for; nodes live while composing
        self._depth = 0

    def compose_document(self) -> Node | None:
        self._expanded = {}
        node: Node | None = super().compose_document()
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # untyped in the stubs
        if self.check_event(yaml.AliasEvent):
            node: Node | None = super().compose_node(parent, index)
            if node is not None and id(node) not in self._expanded:
                raise ComposerError(None, None, "an alias refers to a node that contains it", mark)
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        size = 1 + sum(self._expanded[id(child)] for child in children)
        if size > MAX_NODES:
            raise ComposerError(None, None, f"holds more than {MAX_NODES} values, counting an alias (*name) "
                                            "as every value it repeats", mark)
        self._expanded[id(node)] = size
        return node


def load_bounded(text: str) -> Any:
    """`text` as `yaml.safe_load` builds it, within the limits above."""
    return yaml.load(text, Loader=BoundedSafeLoader)
