"""The YAML files the project reads (configs, the method table, profiles): a key repeated in one
mapping is an error. YAML 1.2 forbids it; PyYAML keeps the last one silently, so a section appended
to a copy of a config (`train:` twice) would replace the one above it without a word."""

from __future__ import annotations

__all__ = ["load"]


def _loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} repeated (first at line {seen[key] + 1}): a repeated key silently "
                        "replaces the first; merge the two",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def load(text: str):
    """`text` parsed as yaml.safe_load does, a repeated key raising a yaml.YAMLError (its mark: the
    repeat's line and column)."""
    import yaml

    return yaml.load(text, Loader=_loader())  # noqa: S506 (a SafeLoader)
