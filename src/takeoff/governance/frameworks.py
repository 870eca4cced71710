"""Control library: frameworks and takeoff controls as versioned YAML data, loaded, validated and measured.

Over ~400 lines on purpose: the framework and control YAML schema end to end (load, validate, map, measure
coverage), a data table's code.

Frameworks (NIST AI RMF, ISO/IEC 42001 Annex A, EU AI Act) are data files in the `frameworks/` folder next to
this module; an admin loads another framework from any path the same way, without a release of takeoff.
takeoff's controls name the built-in items they serve (`maps_to`); a loaded framework names, per item, the takeoff
controls that serve it (`takeoff_controls`), so coverage is computed the same way for both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

FRAMEWORKS_DIR = Path(__file__).with_name("frameworks")
BUILTIN_FRAMEWORK_IDS: tuple[str, ...] = ("nist-ai-rmf-1.0", "iso-iec-42001-2023", "eu-ai-act-2024-1689")
CONTROLS_FILE = FRAMEWORKS_DIR / "takeoff-controls.yaml"
CONTROL_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d{2}$"

TIERS: tuple[str, ...] = ("low", "medium", "high")
EU_CATEGORIES: tuple[str, ...] = ("prohibited", "high_risk", "limited_risk", "minimal_risk")
EVIDENCE_MODES: tuple[str, ...] = ("automatic", "attestation")

_ID = {"type": "string", "minLength": 1, "maxLength": 80, "pattern": r"^\S(.*\S)?$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 400}

FRAMEWORK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "version", "publisher", "items"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$", "maxLength": 80},
        "name": _TEXT,
        "version": {"type": ["string", "number"], "minLength": 1, "maxLength": 40},
        "publisher": _TEXT,
        "source_url": {"type": "string", "maxLength": 400},
        "assessable_kinds": {"type": "array", "items": _ID, "minItems": 1},
        "dates": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "date", "title"],
                "properties": {
                    "id": _ID,
                    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                    "title": _TEXT,
                    "applies": {"type": "array", "items": _ID},
                    "status": {"enum": ["enacted", "proposed"]},
                },
            },
        },
        "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
    },
    "$defs": {
        "item": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "kind", "title"],
            "properties": {
                "id": _ID,
                "kind": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"},
                "title": _TEXT,
                "children": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
                "takeoff_controls": {"type": "array", "uniqueItems": True,
                                     "items": {"type": "string", "pattern": CONTROL_ID_PATTERN}},
            },
        }
    },
}

CONTROLS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "version", "controls"],
    "properties": {
        "id": _ID,
        "name": _TEXT,
        "version": {"type": ["string", "number"], "minLength": 1, "maxLength": 40},
        "controls": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "statement", "evidence", "evidence_kind", "applies_to", "maps_to"],
                "properties": {
                    "id": {"type": "string", "pattern": CONTROL_ID_PATTERN},
                    "title": _TEXT,
                    "statement": _TEXT,
                    "evidence": {"enum": list(EVIDENCE_MODES)},
                    "evidence_kind": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"},
                    "applies_to": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["tiers", "eu_categories"],
                        "properties": {
                            "tiers": {"type": "array", "uniqueItems": True, "items": {"enum": list(TIERS)}},
                            "eu_categories": {
                                "type": "array",
                                "uniqueItems": True,
                                "items": {"enum": list(EU_CATEGORIES)},
                            },
                            "gpai": {"type": "boolean"},
                            "transparency": {"type": "boolean"},
                        },
                    },
                    "maps_to": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "uniqueItems": True, "items": _ID},
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class FrameworkItem:
    """One node of a framework tree (a function, category, article, control...)."""

    id: str
    kind: str
    title: str
    parent_id: str | None = None
    children: tuple[FrameworkItem, ...] = ()
    takeoff_controls: tuple[str, ...] = ()  # takeoff control ids that serve this item (loaded frameworks)


@dataclass(frozen=True)
class FrameworkDate:
    """A dated milestone of a framework (e.g. when an EU AI Act chapter applies)."""

    id: str
    date: str
    title: str
    applies: tuple[str, ...] = ()
    status: str = "enacted"


@dataclass(frozen=True)
class Framework:
    """A loaded, validated framework: its identity, item tree and dated milestones."""

    id: str
    name: str
    version: str
    publisher: str
    items: tuple[FrameworkItem, ...]
    source: str
    source_url: str | None = None
    assessable_kinds: tuple[str, ...] = ()
    dates: tuple[FrameworkDate, ...] = ()
    _index: dict[str, FrameworkItem] = field(default_factory=dict, repr=False, compare=False)

    def iter_items(self) -> Iterator[FrameworkItem]:
        """Every item in the tree, depth first."""
        stack = list(reversed(self.items))
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))

    def item(self, item_id: str) -> FrameworkItem:
        """The item with this id; ValueError if the framework has none."""
        try:
            return self._index[item_id]
        except KeyError:
            raise ValueError(f"framework {self.id!r} has no item {item_id!r}") from None

    def has_item(self, item_id: str) -> bool:
        """Whether the framework defines this item id."""
        return item_id in self._index

    def assessable_items(self) -> tuple[FrameworkItem, ...]:
        """Items a control can satisfy: those of the declared assessable kinds, else the leaves."""
        if self.assessable_kinds:
            return tuple(i for i in self.iter_items() if i.kind in self.assessable_kinds)
        return tuple(i for i in self.iter_items() if not i.children)

    def leaves_under(self, item_id: str) -> tuple[str, ...]:
        """Ids of the assessable items at or below an item (mapping to a parent covers its children)."""
        assessable = {i.id for i in self.assessable_items()}
        out: list[str] = []
        stack = [self.item(item_id)]
        while stack:
            node = stack.pop()
            if node.id in assessable:
                out.append(node.id)
            stack.extend(node.children)
        return tuple(out)


@dataclass(frozen=True)
class Control:
    """A takeoff control: the evidence that satisfies it, where it applies and which framework items it serves."""

    id: str
    title: str
    statement: str
    evidence: str
    evidence_kind: str
    tiers: tuple[str, ...]
    eu_categories: tuple[str, ...]
    maps_to: dict[str, tuple[str, ...]]
    gpai: bool = False
    transparency: bool = False  # applies to any system with EU AI Act Art. 50 duties, whatever its category

    @property
    def automatic(self) -> bool:
        """Whether takeoff produces this control's evidence itself."""
        return self.evidence == "automatic"


@dataclass(frozen=True)
class FrameworkCoverage:
    """How far a set of controls covers, and with evidence satisfies, one framework's assessable items."""

    framework_id: str
    total: int
    covered: tuple[str, ...]
    satisfied: tuple[str, ...]
    uncovered: tuple[str, ...]

    @property
    def covered_share(self) -> float:
        """Share of items served by at least one applicable control."""
        return len(self.covered) / self.total if self.total else 0.0

    @property
    def satisfied_share(self) -> float:
        """Share of items served by at least one control whose evidence is satisfied."""
        return len(self.satisfied) / self.total if self.total else 0.0


# --- YAML reading with locations -------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file into data and its node tree (kept for line numbers); ValueError on syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read file ({exc.__class__.__name__})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}:{where}: invalid YAML: {problem}") from None
    return data, node


def _node_line(node: yaml.Node | None, path: Sequence[Any]) -> int | None:
    """1-based line of the deepest node reachable along a JSON path (for error messages)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for step in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == step:
                    nxt = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            nxt = node.value[step]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


def _field_name(path: Sequence[Any]) -> str:
    """A readable field path like `items[3].children[0].title`."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "(top level)"


def _validate_schema(data: Any, node: yaml.Node | None, schema: dict[str, Any], path: Path) -> None:
    """Validate against a JSON schema; ValueError naming file, line and field of the first error."""
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if err is None:
        return
    loc = list(err.absolute_path)
    line = _node_line(node, loc)
    where = f" line {line}:" if line else ""
    raise ValueError(f"{path}:{where} field {_field_name(loc)}: {err.message}")


# --- frameworks ---------------------------------------------------------------------------------------


def _build_items(raw: Iterable[Mapping[str, Any]], parent: str | None) -> tuple[FrameworkItem, ...]:
    return tuple(
        FrameworkItem(
            id=str(r["id"]),
            kind=str(r["kind"]),
            title=str(r["title"]),
            parent_id=parent,
            children=_build_items(r.get("children", ()), str(r["id"])),
            takeoff_controls=tuple(r.get("takeoff_controls", ())),
        )
        for r in raw
    )


def _resolve(name_or_path: str | Path) -> Path:
    """A built-in framework id or file name resolves to the package folder; anything else is a path."""
    candidate = FRAMEWORKS_DIR / f"{name_or_path}.yaml"
    if isinstance(name_or_path, str) and "/" not in name_or_path and candidate.is_file():
        return candidate
    return Path(name_or_path)


def _check_control_refs(data: Mapping[str, Any], node: yaml.Node | None, path: Path,
                        control_ids: Iterable[str]) -> None:
    """Every `takeoff_controls` id must name a control of the library; ValueError naming file, line and field."""
    known = set(control_ids)
    stack: list[tuple[list[Any], Mapping[str, Any]]] = [(["items", i], it) for i, it in enumerate(data["items"])]
    stack.reverse()
    while stack:
        loc, item = stack.pop()
        for j, ref in enumerate(item.get("takeoff_controls", ())):
            if ref not in known:
                where = [*loc, "takeoff_controls", j]
                raise ValueError(f"{path}: line {_node_line(node, where)}: field {_field_name(where)}: "
                                 f"unknown takeoff control {ref!r} (item {item['id']!r})")
        stack.extend(reversed([([*loc, "children", k], c) for k, c in enumerate(item.get("children", ()))]))


def load_framework(name_or_path: str | Path, control_ids: Iterable[str] | None = None) -> Framework:
    """Load and validate a framework YAML, by built-in id (e.g. `nist-ai-rmf-1.0`) or from any file path.

    With `control_ids` (the control library's ids), every item's `takeoff_controls` must name one of them."""
    if not isinstance(name_or_path, (str, Path)) or not str(name_or_path).strip():
        raise ValueError("framework must be a built-in framework id or a path to a YAML file")
    path = _resolve(name_or_path)
    if isinstance(name_or_path, str) and path.suffix not in (".yaml", ".yml") and not path.exists():
        raise ValueError(
            f"unknown framework {name_or_path!r}: use a built-in id ({', '.join(BUILTIN_FRAMEWORK_IDS)}) "
            "or a path to a YAML file"
        )
    data, node = _read_yaml(path)
    _validate_schema(data, node, FRAMEWORK_SCHEMA, path)
    if control_ids is not None:
        _check_control_refs(data, node, path, control_ids)
    items = _build_items(data["items"], None)
    fw = Framework(
        id=data["id"],
        name=data["name"],
        version=str(data["version"]),
        publisher=data["publisher"],
        items=items,
        source=str(path),
        source_url=data.get("source_url"),
        assessable_kinds=tuple(data.get("assessable_kinds", ())),
        dates=tuple(
            FrameworkDate(
                id=d["id"],
                date=d["date"],
                title=d["title"],
                applies=tuple(d.get("applies", ())),
                status=d.get("status", "enacted"),
            )
            for d in data.get("dates", ())
        ),
    )
    for item in fw.iter_items():
        if item.id in fw._index:
            raise ValueError(f"{path}: line {_line_of_id(node, item.id)}: duplicate item id {item.id!r}")
        fw._index[item.id] = item
    kinds = {i.kind for i in fw.iter_items()}
    unknown = [k for k in fw.assessable_kinds if k not in kinds]
    if unknown:
        raise ValueError(f"{path}: field assessable_kinds: no item has kind {unknown[0]!r}")
    for d in fw.dates:
        for ref in d.applies:
            if ref not in fw._index:
                raise ValueError(f"{path}: field dates ({d.id}): applies to unknown item {ref!r}")
    return fw


def _line_of_id(node: yaml.Node | None, item_id: str) -> int | str:
    """Line of the last `id: <item_id>` in the file, used to point at a duplicate."""
    lines: list[int] = []
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if getattr(k, "value", None) == "id" and getattr(v, "value", None) == item_id:
                    lines.append(v.start_mark.line + 1)
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return max(lines) if lines else "?"


def load_builtin_frameworks() -> dict[str, Framework]:
    """The frameworks shipped with takeoff, keyed by framework id."""
    return {fid: load_framework(fid) for fid in BUILTIN_FRAMEWORK_IDS}


def count_by_kind(framework: Framework) -> dict[str, int]:
    """How many items of each kind a framework holds (e.g. NIST: 4 functions, 19 categories, 72 subcategories)."""
    if not isinstance(framework, Framework):
        raise ValueError("count_by_kind expects a loaded Framework")
    return dict(Counter(i.kind for i in framework.iter_items()))


# --- controls -----------------------------------------------------------------------------------------


def load_controls(path: str | Path | None = None) -> tuple[Control, ...]:
    """Load and validate a control library YAML (takeoff's own by default)."""
    source = CONTROLS_FILE if path is None else Path(path)
    data, node = _read_yaml(source)
    _validate_schema(data, node, CONTROLS_SCHEMA, source)
    controls: list[Control] = []
    seen: set[str] = set()
    for idx, raw in enumerate(data["controls"]):
        if raw["id"] in seen:
            line = _node_line(node, ["controls", idx, "id"])
            raise ValueError(f"{source}: line {line}: field controls[{idx}].id: duplicate control id {raw['id']!r}")
        seen.add(raw["id"])
        applies = raw["applies_to"]
        if (not applies["tiers"] and not applies["eu_categories"] and not applies.get("gpai", False)
                and not applies.get("transparency", False)):
            line = _node_line(node, ["controls", idx, "applies_to"])
            raise ValueError(
                f"{source}: line {line}: field controls[{idx}].applies_to: control {raw['id']} applies to nothing"
            )
        controls.append(
            Control(
                id=raw["id"],
                title=raw["title"],
                statement=raw["statement"],
                evidence=raw["evidence"],
                evidence_kind=raw["evidence_kind"],
                tiers=tuple(applies["tiers"]),
                eu_categories=tuple(applies["eu_categories"]),
                maps_to={fid: tuple(ids) for fid, ids in raw["maps_to"].items()},
                gpai=bool(applies.get("gpai", False)),
                transparency=bool(applies.get("transparency", False)),
            )
        )
    return tuple(controls)


def _as_framework_map(frameworks: Mapping[str, Framework] | Iterable[Framework]) -> dict[str, Framework]:
    if isinstance(frameworks, Mapping):
        fws = list(frameworks.values())
    else:
        fws = list(frameworks)
    if not all(isinstance(f, Framework) for f in fws):
        raise ValueError("frameworks must be loaded Framework objects")
    return {f.id: f for f in fws}


def validate_control_mappings(
    controls: Iterable[Control], frameworks: Mapping[str, Framework] | Iterable[Framework]
) -> None:
    """Check every `maps_to` id of every control exists in the loaded frameworks; ValueError listing the misses."""
    fws = _as_framework_map(frameworks)
    problems: list[str] = []
    for control in controls:
        if not isinstance(control, Control):
            raise ValueError("controls must be Control objects")
        for fid, ids in control.maps_to.items():
            fw = fws.get(fid)
            if fw is None:
                problems.append(f"{control.id} maps to unknown framework {fid!r}")
                continue
            problems.extend(f"{control.id} maps to {fid} item {i!r}, which does not exist" for i in ids if not fw.has_item(i))
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ValueError(f"control mappings do not resolve: {shown}{more}")


def with_framework_mappings(
    controls: Iterable[Control], frameworks: Mapping[str, Framework] | Iterable[Framework]
) -> tuple[Control, ...]:
    """The controls with each framework's `takeoff_controls` folded into their `maps_to` (ids the library lacks are
    ignored), so a loaded framework's coverage is computed exactly like a built-in one's."""
    extra: dict[str, dict[str, list[str]]] = {}
    for fw in _as_framework_map(frameworks).values():
        for item in fw.iter_items():
            for cid in item.takeoff_controls:
                extra.setdefault(cid, {}).setdefault(fw.id, []).append(item.id)
    out: list[Control] = []
    for c in controls:
        if not isinstance(c, Control):
            raise ValueError("controls must be Control objects")
        add = extra.get(c.id)
        if not add:
            out.append(c)
            continue
        maps = dict(c.maps_to)
        for fid, ids in add.items():
            maps[fid] = tuple(dict.fromkeys([*maps.get(fid, ()), *ids]))
        out.append(replace(c, maps_to=maps))
    return tuple(out)


def controls_for(
    tier: str,
    eu_category: str | None = None,
    *,
    gpai: bool = False,
    transparency: bool = False,
    controls: Iterable[Control] | None = None,
) -> tuple[Control, ...]:
    """Controls that apply to a use case: its tier is listed, OR its EU AI Act category is, OR it is a GPAI model,
    OR it has Art. 50 transparency duties (which stack on any category)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}; got {tier!r}")
    if eu_category is not None and eu_category not in EU_CATEGORIES:
        raise ValueError(f"eu_category must be one of {', '.join(EU_CATEGORIES)} or None; got {eu_category!r}")
    pool = load_controls() if controls is None else tuple(controls)
    return tuple(
        c
        for c in pool
        if tier in c.tiers or (eu_category is not None and eu_category in c.eu_categories) or (gpai and c.gpai)
        or (transparency and c.transparency)
    )


def coverage(
    controls: Iterable[Control],
    frameworks: Mapping[str, Framework] | Iterable[Framework],
    satisfied_control_ids: Iterable[str] = (),
) -> dict[str, FrameworkCoverage]:
    """Per framework: assessable items covered by the given (applicable) controls, and those with satisfied evidence."""
    fws = _as_framework_map(frameworks)
    pool = tuple(controls)
    validate_control_mappings(pool, fws)
    if isinstance(satisfied_control_ids, str):
        raise ValueError("satisfied_control_ids must be a collection of control ids, not a single string")
    satisfied_ids = set(satisfied_control_ids)
    known = {c.id for c in pool}
    unknown = sorted(satisfied_ids - known)
    if unknown:
        raise ValueError(f"satisfied control id {unknown[0]!r} is not among the applicable controls")
    result: dict[str, FrameworkCoverage] = {}
    for fid, fw in fws.items():
        order = [i.id for i in fw.assessable_items()]
        covered: set[str] = set()
        satisfied: set[str] = set()
        for c in pool:
            for ref in c.maps_to.get(fid, ()):
                leaves = fw.leaves_under(ref)
                covered.update(leaves)
                if c.id in satisfied_ids:
                    satisfied.update(leaves)
        result[fid] = FrameworkCoverage(
            framework_id=fid,
            total=len(order),
            covered=tuple(i for i in order if i in covered),
            satisfied=tuple(i for i in order if i in satisfied),
            uncovered=tuple(i for i in order if i not in covered),
        )
    return result
