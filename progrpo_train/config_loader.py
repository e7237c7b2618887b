"""Loading a tree of frozen config dataclasses from YAML recipes and `key=value` overrides.

Generic over the root dataclass (`progrpo_train.config.TrainConfig` is the one we load), so this
module holds the YAML reading, the override syntax and the type coercion, and `config.py` holds
the tree itself, its defaults and its ranges.

- Values are checked against the field's type: "1e-6" becomes a float (PyYAML 1.1 reads it as a
  string), 512.0 an int; a string field takes an override's text as typed, never as YAML. A float
  field refuses inf and nan.
- Unknown keys, wrong types and values outside a Literal's choices raise ValueError naming the
  dotted key and what is allowed (the closest known key, and every key known at that level).
- Packaged recipes live in `RECIPES_DIR` and are named by their file stem. A recipe may start
  from another (`extends: NAME` or a path relative to it: its keys override the parent's, section
  by section). `recipes/variants.yaml` names sets of keys that apply to every packaged recipe:
  `NAME:VARIANT` is recipe NAME with the variant's keys set and `-VARIANT` appended to its out_dir,
  so the paper's comparisons differ in nothing else (one matrix instead of dozens of copied files).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import math
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
VARIANTS_FILE = RECIPES_DIR / "variants.yaml"
EXTENDS = "extends"


def base_recipes() -> list[str]:
    """Names of the packaged recipe files."""
    return sorted(path.stem for path in RECIPES_DIR.glob("*.yaml") if path != VARIANTS_FILE)


@functools.cache
def variants() -> dict[str, dict]:
    """variant name -> {"about": one line, "set": {dotted key: value}} (recipes/variants.yaml)."""
    return read_yaml(VARIANTS_FILE) if VARIANTS_FILE.is_file() else {}


def list_recipes() -> list[str]:
    """Every name `--config` takes: the packaged recipes, then each with each variant."""
    bases = base_recipes()
    return bases + [f"{base}:{variant}" for base in bases for variant in variants()]


def describe_recipe(name: str) -> str:
    """One line: a recipe's first comment line, or a variant's `about`."""
    base, _, variant = name.partition(":")
    if variant:
        return f"{variants()[variant]['about']} (on {base})"
    return resolve_recipe(base).read_text(encoding="utf-8").splitlines()[0].lstrip("# ")


def resolve_recipe(name_or_path: str | Path) -> Path:
    """An existing file as given, else the packaged recipe of that name ("toy", "toy.yaml")."""
    path, text = Path(name_or_path).expanduser(), str(name_or_path)
    if path.is_file():
        return path
    packaged = RECIPES_DIR / (text if text.endswith((".yaml", ".yml")) else f"{text}.yaml")
    if "/" not in text and "\\" not in text and packaged.is_file() and packaged != VARIANTS_FILE:
        return packaged
    raise ValueError(
        f"no config file or packaged recipe named {text!r}; packaged recipes: "
        f"{', '.join(base_recipes())} (each also as NAME:VARIANT, variants: {', '.join(variants())})"
    )


def _merge(parent: dict, child: dict) -> dict:
    """`child`'s keys over `parent`'s, section by section."""
    merged = dict(parent)
    for key, value in child.items():
        both_sections = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if both_sections else value
    return merged


def recipe_tree(name_or_path: str | Path, root: type, seen: tuple[Path, ...] = ()) -> dict:
    """The raw tree of a recipe file, a packaged recipe or NAME:VARIANT, with `extends` resolved."""
    text = str(name_or_path)
    if ":" in text and not Path(text).expanduser().is_file():
        base, _, variant = text.partition(":")
        if variant not in variants():
            raise ValueError(f"unknown recipe variant {variant!r}; variants: {', '.join(variants())}")
        tree = recipe_tree(base, root, seen)
        for key, value in variants()[variant]["set"].items():
            _set(tree, key, value, root)
        _set(tree, "out_dir", f"{tree.get('out_dir') or _default(root, 'out_dir')}-{variant}", root)
        return tree
    path = resolve_recipe(name_or_path).resolve()
    if path in seen:
        raise ValueError(f"{path}: `extends` loops back to itself ({' -> '.join(map(str, seen + (path,)))})")
    tree = read_yaml(path)
    parent = tree.pop(EXTENDS, None)
    if parent is None:
        return tree
    relative = path.parent / str(parent)
    parent_tree = recipe_tree(relative if relative.is_file() else str(parent), root, seen + (path,))
    return _merge(parent_tree, tree)


def _default(root: type, name: str) -> Any:
    return getattr(root(), name)


def _unknown_key(name: str, prefix: str, known: Sequence[str], root: type) -> ValueError:
    """The closest known key (at this level, else this name in a section) and all known here."""
    close = [prefix + match for match in difflib.get_close_matches(name, known, n=1)]
    close += [
        f"{section}.{name}"
        for section, annotation in get_type_hints(root).items()
        if dataclasses.is_dataclass(annotation) and name in get_type_hints(annotation)
    ]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    level = f"in {prefix[:-1]}" if prefix else "at the top level"
    known_keys = ", ".join(known)
    return ValueError(f"unknown key {prefix + name!r}{hint}; known keys {level}: {known_keys}")


def type_name(annotation: Any) -> str:
    """How an error message says what a field accepts."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if arm is type(None) else type_name(arm) for arm in args)
    if origin is tuple:
        items = f"items: {type_name(args[0])}" if args[-1] is Ellipsis else f"{len(args)} items"
        return f"a list ({items})"
    return {bool: "true or false", int: "an integer", float: "a finite number"}.get(annotation, "a string")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """`value` as the field type `annotation` (bools and numbers never mix), else ValueError."""
    origin, args = get_origin(annotation), get_args(annotation)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is Literal:
        if any(value == choice and type(value) is type(choice) for choice in args):
            return value
    elif origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (arm for arm in args if arm is not type(None)):
            with contextlib.suppress(ValueError):
                return _coerce(value, arm, key)
    elif origin is tuple and isinstance(value, (list, tuple)):
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(value) == len(item_types):
            return tuple(
                _coerce(item, item_type, f"{key}[{index}]")
                for index, (item, item_type) in enumerate(zip(value, item_types))
            )
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation in (int, float) and (is_number or isinstance(value, str)):
        if isinstance(value, int):
            return annotation(value)
        with contextlib.suppress(ValueError):
            number = float(value)  # "1e-6": YAML 1.1 reads it as a string
            if math.isfinite(number) and (annotation is float or number.is_integer()):
                return annotation(number)
    elif annotation is str and (is_number or isinstance(value, str)):
        return str(value)
    raise ValueError(f"{key} must be {type_name(annotation)}, got {value!r}")


def _build(cls: type, values: Any, root: type, prefix: str = "") -> Any:
    """A config dataclass `cls` from a mapping (nested mappings for nested sections)."""
    values = {} if values is None else values  # `optim:` with nothing under it
    if not isinstance(values, Mapping):
        raise ValueError(f"{prefix[:-1] or 'the config'} must be a mapping of keys, got {values!r}")
    hints = get_type_hints(cls)
    arguments = {}
    for name, value in values.items():
        if name not in hints:
            raise _unknown_key(str(name), prefix, list(hints), root)
        if dataclasses.is_dataclass(hints[name]):
            arguments[name] = _build(hints[name], value, root, f"{prefix}{name}.")
        else:
            arguments[name] = _coerce(value, hints[name], prefix + name)
    return cls(**arguments)


def _walk(tree: dict, key: str, root: type) -> tuple[dict, str, Any]:
    """The node of the raw tree that holds dotted `key` (sections created as needed), the leaf's
    name and its annotation; unknown keys and keys that name a section are refused."""
    names = key.split(".")
    cls, node, prefix = root, tree, ""
    for depth, name in enumerate(names):
        hints = get_type_hints(cls)
        if name not in hints:
            raise _unknown_key(name, prefix, list(hints), root)
        annotation, is_section = hints[name], dataclasses.is_dataclass(hints[name])
        if depth == len(names) - 1:
            break
        if not is_section:
            raise ValueError(f"{prefix + name} is a value, not a section: {key!r} means nothing")
        if node.get(name) is None:
            node[name] = {}
        if not isinstance(node[name], dict):
            raise ValueError(f"{prefix + name} must be a mapping of keys, got {node[name]!r}")
        cls, node, prefix = annotation, node[name], f"{prefix}{name}."
    if is_section:
        first_key = next(iter(get_type_hints(annotation)))
        raise ValueError(f"{prefix + name} is a section; set one of its keys, e.g. {prefix}{name}.{first_key}=...")
    return node, name, annotation


def _set(tree: dict, key: str, value: Any, root: type) -> None:
    node, name, _ = _walk(tree, key, root)
    node[name] = value


def _apply_override(tree: dict, override: str, root: type) -> None:
    """Set one `dotted.key=value` in the raw tree, checking the key. A string field takes the
    text as typed unless null or ~ (`Answer: x` is no YAML mapping, `0123` no octal number)."""
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise ValueError(f"override {override!r} is not key=value (e.g. optim.lr=1e-6)")
    node, name, annotation = _walk(tree, key.strip(), root)
    takes_text = annotation is str or (
        get_origin(annotation) in (Union, types.UnionType) and str in get_args(annotation)
    )
    if takes_text and text.strip() not in ("null", "~"):
        node[name] = text
        return
    try:
        node[name] = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{key.strip()}: cannot read {text!r} as a YAML value") from error


def read_yaml(path: Path) -> dict:
    """The recipe's top-level mapping (an empty file is an empty one)."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(tree, (dict, type(None))):
        raise ValueError(f"{path}: expected a mapping of keys, got {type(tree).__name__}")
    return tree or {}


def load_tree(root: type, path: str | Path | None = None, overrides: Sequence[str] = ()) -> Any:
    """A `root` dataclass from a recipe (file, packaged name or NAME:VARIANT; None: the defaults)
    and `key=value` overrides, applied in order."""
    tree = recipe_tree(path, root) if path is not None else {}
    for override in overrides:
        _apply_override(tree, override, root)
    return _build(root, tree, root)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dicts in field order, tuples as lists: ready for YAML or JSON."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_to_yaml(cfg: Any) -> str:
    """The config as YAML that the loader reads back to an equal config."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)


def dump_config(cfg: Any, path: str | Path) -> Path:
    """Write the config as YAML to `path` (the run record, e.g. out_dir/config.yaml)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_to_yaml(cfg), encoding="utf-8")
    return path
