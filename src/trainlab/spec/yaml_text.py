"""YAML as trainlab reads it from users: PyYAML's safe loader, with what a study file must never be able to
do refused before anything is built from it. A key given twice is an error (YAML keeps the last one
silently); a document that expands past MAX_VALUES values through its aliases (a "billion laughs" of 500
bytes holds 10^9) or refers to itself is refused; one nested past MAX_DEPTH levels too."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_VALUES = 100_000  # after aliases are expanded; a large study file holds a few thousand
MAX_DEPTH = 100


class YAMLRefused(yaml.YAMLError):
    """A document that parses but that trainlab will not read (its size once expanded, a cycle, its depth)."""


class _Loader(yaml.SafeLoader):
    _depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        """Nodes are composed recursively: refused past MAX_DEPTH levels, before Python's own recursion limit
        (100,000 nested brackets took seconds to reach it)."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YAMLRefused(f"nested too deeply (more than {MAX_DEPTH} levels)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: keys merged in may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep)


def load_yaml(text: str) -> Any:
    """The document in `text`; yaml.YAMLError (a MarkedYAMLError with a line, or YAMLRefused) otherwise."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_size(root: Node) -> None:
    """Count the values the document would hold, each alias counted as the value it repeats, without
    expanding anything (each node is counted once and its count reused)."""
    counts: dict[int, int] = {}
    open_: set[int] = set()

    def count(node: Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise YAMLRefused(f"nested too deeply (more than {MAX_DEPTH} levels)")
        if id(node) in counts:
            return counts[id(node)]
        if id(node) in open_:
            raise YAMLRefused("a value contains itself (an alias to its own anchor)")
        open_.add(id(node))
        if isinstance(node, ScalarNode):
            n = 1
        elif isinstance(node, SequenceNode):
            n = 1 + sum(count(child, depth + 1) for child in node.value)
        else:
            n = 1 + sum(count(k, depth + 1) + count(v, depth + 1) for k, v in node.value)
        if n > MAX_VALUES:
            raise YAMLRefused(f"holds more than {MAX_VALUES:,} values once its aliases are expanded")
        open_.discard(id(node))
        counts[id(node)] = n
        return n

    count(root, 0)
