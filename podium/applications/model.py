"""An environment's application instances, read from `<environment>/applications.yaml`.

```yaml
Wordpress_app[blog]:                      # an instance: Type[title]
  components:
    Wordpress_app::Database[blog]:        # a component, placed on nodes
      nodes: [db-01.example.com]
    Wordpress_app::Web[blog]:
      nodes: [web-01.example.com, web-02.example.com]
      requires: [Wordpress_app::Database[blog]]
```

Type names are case-insensitive, as in Puppet (`wordpress_app::web` is `Wordpress_app::Web`),
and titles may be quoted. `requires` may name a component of any instance in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from podium.jsontypes import Json
from podium.yamlfile import parse_yaml, read_yaml

FILE_NAME: Final = "applications.yaml"
_REFERENCE: Final = re.compile(r"\A([A-Za-z]\w*(?:::[A-Za-z]\w*)*)(?:\[(.+)\])?\Z", re.DOTALL)
_NODE: Final = re.compile(r"\A[^\s,]+\Z")


class ApplicationsError(ValueError):
    """Raised for an applications file that cannot be used; the message names file and entry."""


class BadReference(ValueError):
    """Raised for a name that is not `Type` or `Type[title]`."""


@dataclass(frozen=True, slots=True)
class Placed:
    """A component of an instance, on its nodes, after the components it requires."""

    ref: str
    nodes: tuple[str, ...]
    requires: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Instance:
    ref: str
    type: str
    components: tuple[Placed, ...]


@dataclass(frozen=True, slots=True)
class Applications:
    instances: Mapping[str, Instance]

    def select(self, name: str) -> list[Instance]:
        """`Type` gives every instance of the type, `Type[title]` that one instance (or none).
        Raises BadReference."""
        type_, title = parse_reference(name)
        if title is None:
            return [i for i in self.instances.values() if i.type == type_]
        found = self.instances.get(f"{type_}[{title}]")
        return [] if found is None else [found]


def parse_reference(name: str) -> tuple[str, str | None]:
    """`wordpress_app['blog']` -> ("Wordpress_app", "blog"). Raises BadReference."""
    match = _REFERENCE.match(name.strip())
    if match is None:
        raise BadReference(f"{name!r} is not an application name: use Type or Type[title]")
    type_ = "::".join(part.capitalize() for part in match[1].split("::"))
    title = match[2]
    if title is not None and len(title) >= 2 and title[0] == title[-1] and title[0] in "'\"":
        title = title[1:-1]
    return type_, title


def load_applications(environment: Path) -> Applications:
    """The environment's applications; none when it has no file. Raises ApplicationsError."""
    path = environment / FILE_NAME
    if not path.exists():
        return Applications({})
    return _applications(read_yaml(path, ApplicationsError), str(path))


def parse_applications(text: str, source: str = FILE_NAME) -> Applications:
    """Raises ApplicationsError naming the source and the entry."""
    return _applications(parse_yaml(text, source, ApplicationsError), source)


def _applications(data: Json, source: str) -> Applications:
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ApplicationsError(f"{source}: must map instances (Type[title]) to components")
    instances = [_instance(str(key), value, source) for key, value in data.items()]
    known = {component.ref for instance in instances for component in instance.components}
    for instance in instances:
        for component in instance.components:
            unknown = [ref for ref in component.requires if ref not in known]
            if unknown:
                raise ApplicationsError(
                    f"{source}: {component.ref}: requires unknown components: {', '.join(unknown)}"
                )
    return Applications({instance.ref: instance for instance in instances})


def _instance(key: str, value: Json, source: str) -> Instance:
    ref = _ref(key, source)
    components = value.get("components") if isinstance(value, dict) else None
    if not isinstance(components, dict):
        raise ApplicationsError(f"{source}: {ref}: needs `components`, a map of Type[title]")
    placed = tuple(_component(str(k), v, f"{source}: {ref}") for k, v in components.items())
    return Instance(ref, ref.split("[", 1)[0], placed)


def _component(key: str, value: Json, where: str) -> Placed:
    ref = _ref(key, where)
    where = f"{where}: {ref}"
    if not isinstance(value, dict):
        raise ApplicationsError(f"{where}: must be a map with `nodes` and `requires`")
    nodes = _names(value.get("nodes"), "nodes", where)
    for node in nodes:
        if not _NODE.match(node):
            raise ApplicationsError(f"{where}: {node!r} contains whitespace or a comma")
    requires = tuple(_ref(r, where) for r in _names(value.get("requires"), "requires", where))
    return Placed(ref, nodes, requires)


def _ref(name: str, where: str) -> str:
    """A component or instance reference, which always has a title."""
    try:
        type_, title = parse_reference(name)
    except BadReference as exc:
        raise ApplicationsError(f"{where}: {exc}") from exc
    if title is None:
        raise ApplicationsError(f"{where}: {name!r} needs a title: Type[title]")
    return f"{type_}[{title}]"


def _names(value: Json, key: str, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else [] if value is None else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ApplicationsError(f"{where}: `{key}` must be a name or a list of names")
    return tuple(dict.fromkeys(names))
