"""Parse the definition's YAML text safely: refuse duplicate keys, refuse alias bombs before
anything is built from them, and keep the source text of plain numbers so a string field gets
exactly what was written (`version: 1.10` stays "1.10", not 1.1; `0777` stays "0777", not 511).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from lambda_complex.builder.errors import DefinitionError, FieldError

# An alias bomb (billion laughs) is a few hundred bytes whose aliases expand to billions of
# values; anything that walks the data then never ends. A real definition has a handful of
# aliases (`<<: *defaults`) and a few thousand values at most.
MAX_ALIASES = 256
MAX_EXPANDED_NODES = 100_000


class IntText(int):
    """An integer as YAML read it, with the text it was written as (`0777`, `1_000`)."""

    text: str

    def __new__(cls, value: int, text: str) -> IntText:
        self = super().__new__(cls, value)
        self.text = text
        return self


class FloatText(float):
    """A number as YAML read it, with the text it was written as (`1.10`, `1e3`)."""

    text: str

    def __new__(cls, value: float, text: str) -> FloatText:
        self = super().__new__(cls, value)
        self.text = text
        return self


def source_text(value: object) -> str:
    """The text a scalar was written as, where YAML turned it into a number; else str()."""
    if isinstance(value, IntText | FloatText):
        return value.text
    return str(value)


def plain(value: Any) -> Any:
    """`value` with numbers given back as the text they were written as (free-form data such as
    IAM conditions, whose values IAM reads as strings anyway), containers copied."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, IntText | FloatText):
        return value.text
    return value


class _Refused(yaml.composer.ComposerError):
    """Valid YAML this loader will not build (an alias bomb, a recursive structure)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one, and
    checks the composed node graph against the limits above before constructing anything."""

    def construct_document(self, node: Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)


def _check_expansion(root: Node) -> None:
    """Count the values `root` expands to (each alias counted as a full copy of its target)
    and the aliases, without expanding anything: sizes are memoised per node, so the walk is
    linear in the composed document. Iterative, so deep nesting cannot exhaust the stack."""
    size: dict[int, int] = {}
    on_path = {id(root)}
    aliases = 0
    # Depth-first: (node, its remaining children, the values counted so far under it).
    stack: list[tuple[Node, Iterator[Node], list[int]]] = [(root, iter(_children(root)), [1])]
    while stack:
        node, children, counted = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            size[id(node)] = counted[0]
            if stack:
                stack[-1][2][0] += counted[0]
                _check_size(stack[-1][2][0], node)
            continue
        key = id(child)
        if key in on_path:
            raise _Refused(
                None, None, "an alias refers to a value that contains it (a recursive "
                "structure); the definition must be a tree", child.start_mark)
        if key in size:  # a node reached again: through an alias
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _Refused(
                    None, None, f"more than {MAX_ALIASES} aliases; a definition needs a "
                    "few at most", child.start_mark)
            counted[0] += size[key]
            _check_size(counted[0], child)
        else:
            on_path.add(key)
            stack.append((child, iter(_children(child)), [1]))


def _check_size(count: int, node: Node) -> None:
    if count > MAX_EXPANDED_NODES:
        raise _Refused(
            None, None, f"aliases expand the document to more than {MAX_EXPANDED_NODES:,} "
            "values (an alias bomb?); a definition is never that large", node.start_mark)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _construct_mapping(loader: _Loader, node: MappingNode) -> dict[Any, Any]:
    # A merge (`<<: *defaults`) may be overridden by the mapping's own keys, as YAML intends;
    # only a key written twice in the mapping itself is an error.
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged_count = len(node.value) - own
    result: dict[Any, Any] = {}
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = index >= merged_count and key in own_keys
        except TypeError:  # an unhashable key, e.g. a list used as a key
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be a plain value, not {key!r:.60}",
                key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        if index >= merged_count:
            own_keys.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_yaml_int(node)
    return IntText(value, node.value) if node.style is None else value


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_yaml_float(node)
    return FloatText(value, node.value) if node.style is None else value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml(text: str, source: str) -> Any:
    """The data of `text`, or DefinitionError naming the problem (and its line)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _Refused as e:
        raise DefinitionError(source, [FieldError("", f"refused: {describe(e)}")]) from None
    except yaml.YAMLError as e:
        raise DefinitionError(source, [FieldError("", f"not valid YAML: {describe(e)}")]) from None
    except (RecursionError, ValueError, OverflowError, TypeError) as e:
        problem = FieldError("", f"not a usable YAML document: {e}")
        raise DefinitionError(source, [problem]) from None


def describe(error: yaml.YAMLError) -> str:
    """One line for a YAML error (PyYAML's own text spans several, with a source excerpt)."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return " ".join(str(error).split())
    text = "; ".join(part for part in (error.context, error.problem) if part)
    mark = error.problem_mark or error.context_mark
    if mark is not None:
        text += f" (line {mark.line + 1}, column {mark.column + 1})"
    return text
