"""Eval-set import: stream JSONL/CSV into validated cases, hash versions, diff versions.

Design choices (documented because the service relies on them):
- Imports stream: a file is read line by line and never held in memory. Only the case ids seen so far are kept
  (to refuse duplicates), which is O(number of cases) short strings, not O(file size).
- The content hash of a version is ORDER-INDEPENDENT: an eval set is a set of cases, so re-ordering lines does not
  make a new version. Each case hashes to sha256(canonical JSON); the version hash is the sum of those digests
  modulo 2**256 (an additive multiset hash, computable incrementally and in any order) plus the case count.
- A case without an id gets ``c_`` + the first 16 hex digits of sha256(canonical input), so the same input keeps
  the same id across versions and diffs show it as "changed" when only its expected value moved.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

Format = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
JSONL_FIELDS = frozenset({"id", "case_id", "input", "expected", "tags", "metadata"})
MAX_ID_LEN = 200


@dataclass(frozen=True)
class Case:
    """One eval case: what the target gets, what a scorer compares with, tags to slice results by."""

    case_id: str
    input: Any
    expected: Any = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineError:
    """A malformed line: where, which field, and what is wrong, so the author can fix the file."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class EvalSetError(ValueError):
    """An eval-set file that cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        first = str(errors[0]) if errors else "invalid eval set"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"eval set is malformed: {first}{more}")


@dataclass(frozen=True)
class ValidationReport:
    """Result of one streaming pass: case count, all errors, version hash and per-case hashes."""

    n_cases: int
    errors: list[LineError]
    content_hash: str | None
    case_hashes: dict[str, str] | None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class EvalSetDiff:
    """What a new eval-set version changes against the previous one, case by case."""

    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def derive_case_id(input_value: Any) -> str:
    """Stable id from the input, so an unchanged input keeps its id across versions."""
    return "c_" + hashlib.sha256(_canonical(input_value).encode()).hexdigest()[:16]


def case_hash(case: Case) -> str:
    """sha256 of the case's canonical content (id, input, expected, sorted tags, metadata)."""
    if not isinstance(case, Case):
        raise ValueError("case_hash expects a Case")
    body = {
        "id": case.case_id,
        "input": case.input,
        "expected": case.expected,
        "tags": sorted(case.tags),
        "metadata": case.metadata,
    }
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


class ContentHasher:
    """Incremental, order-independent version hash: sum of case digests mod 2**256 plus the count."""

    _MOD = 1 << 256

    def __init__(self) -> None:
        self._acc = 0
        self.count = 0

    def update(self, case: Case) -> str:
        digest = case_hash(case)
        self.add(digest)
        return digest

    def add(self, digest: str) -> None:
        """Count a case by its digest (a stored case_hash: a new version built from an earlier one's cases)."""
        self._acc = (self._acc + int(digest, 16)) % self._MOD
        self.count += 1

    def hexdigest(self) -> str:
        final = hashlib.sha256(f"{self.count}:{self._acc:064x}".encode()).hexdigest()
        return final


def content_hash(cases: Iterator[Case] | Any) -> str:
    """Version hash of any iterable of cases, consumed lazily (never materialised)."""
    hasher = ContentHasher()
    for case in cases:
        hasher.update(case)
    return hasher.hexdigest()


def diff_versions(old_case_hashes: Mapping[str, str], new_case_hashes: Mapping[str, str]) -> EvalSetDiff:
    """Cases added, removed and changed between two versions given as {case_id: case_hash}."""
    if not isinstance(old_case_hashes, Mapping) or not isinstance(new_case_hashes, Mapping):
        raise ValueError("diff_versions expects two mappings of case_id -> case hash")
    added = sorted(k for k in new_case_hashes if k not in old_case_hashes)
    removed = sorted(k for k in old_case_hashes if k not in new_case_hashes)
    changed = sorted(k for k, h in new_case_hashes.items() if k in old_case_hashes and old_case_hashes[k] != h)
    return EvalSetDiff(added=added, removed=removed, changed=changed)


# --- parsing -------------------------------------------------------------------------------------------------


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown eval-set format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def _open_text(source: Any, fmt: str) -> tuple[IO[str], str]:
    """Return a text stream over a path or file object, and how to release it: close, detach or keep."""
    newline = "" if fmt == "csv" else None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"eval-set file not found: {path}")
        return open(path, encoding="utf-8-sig", newline=newline), "close"
    if not hasattr(source, "read"):
        raise ValueError("eval-set source must be a path or a readable file object")
    probe = source.read(0)
    if isinstance(probe, bytes):
        # detach later so the caller's binary file is not closed with our wrapper
        return io.TextIOWrapper(source, encoding="utf-8-sig", newline=newline), "detach"
    return source, "keep"


def _validate_fields(obj: dict[str, Any], line: int) -> tuple[Case | None, list[LineError]]:
    """Pure check of one parsed record; returns the case or the errors of that line."""
    errors: list[LineError] = []
    unknown = sorted(set(obj) - JSONL_FIELDS)
    if unknown:
        errors.append(LineError(line, unknown[0], f"unknown field (allowed: {', '.join(sorted(JSONL_FIELDS))})"))
    if "input" not in obj:
        errors.append(LineError(line, "input", "missing"))
        input_value: Any = None
    else:
        input_value = obj["input"]
        if isinstance(input_value, str):
            if not input_value.strip():
                errors.append(LineError(line, "input", "must not be empty"))
        elif not isinstance(input_value, dict):
            errors.append(LineError(line, "input", "must be a string or a JSON object"))
    tags = obj.get("tags", [])
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        errors.append(LineError(line, "tags", "must be a list of non-empty strings"))
        tags = []
    metadata = obj.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        errors.append(LineError(line, "metadata", "must be a JSON object"))
    raw_id = obj.get("case_id", obj.get("id"))
    if raw_id is not None and raw_id != "":
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not raw_id.strip() or len(raw_id) > MAX_ID_LEN:
            errors.append(LineError(line, "id", f"must be a non-empty string of at most {MAX_ID_LEN} characters"))
    if errors:
        return None, errors
    case_id = raw_id.strip() if isinstance(raw_id, str) and raw_id.strip() else derive_case_id(input_value)
    tag_tuple = tuple(dict.fromkeys(t.strip() for t in tags))
    return Case(case_id, input_value, obj.get("expected"), tag_tuple, dict(metadata)), []


def check_case(obj: dict[str, Any]) -> Case:
    """One case given as the import format's fields (id, input, expected, tags, metadata); EvalSetError naming the
    field when it is malformed. For cases built by the server (from production requests) rather than read from a file."""
    if not isinstance(obj, dict):
        raise EvalSetError([LineError(0, "case", "must be a JSON object")])
    case, errors = _validate_fields(obj, 0)
    if case is None:
        raise EvalSetError(errors)
    return case


def _iter_jsonl_records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, list[LineError]]]:
    for lineno, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield lineno, None, [LineError(lineno, "line", f"invalid JSON ({exc.msg} at column {exc.colno})")]
            continue
        if not isinstance(obj, dict):
            yield lineno, None, [LineError(lineno, "line", "must be a JSON object")]
            continue
        yield lineno, obj, []


def _parse_csv_cell_list(value: str) -> Any:
    """CSV tags: a JSON list, or names separated by ';' or ','."""
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        return json.loads(value)
    sep = ";" if ";" in value else ","
    return [t.strip() for t in value.split(sep) if t.strip()]


def _iter_csv_records(stream: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, list[LineError]]]:
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, None, [LineError(1, "header", f"invalid CSV ({exc})")]
        return
    header = [h.strip().lower() for h in header]
    if "input" not in header:
        yield reader.line_num, None, [LineError(reader.line_num, "header", "needs an 'input' column")]
        return
    unknown = [h for h in header if h not in JSONL_FIELDS]
    if unknown:
        yield reader.line_num, None, [LineError(reader.line_num, "header", f"unknown column {unknown[0]!r}")]
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, None, [LineError(reader.line_num, "line", f"invalid CSV ({exc})")]
            return
        lineno = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield lineno, None, [LineError(lineno, "line", f"has {len(row)} columns, header has {len(header)}")]
            continue
        obj: dict[str, Any] = {}
        errors: list[LineError] = []
        for name, cell in zip(header, row):
            if name == "tags":
                try:
                    obj["tags"] = _parse_csv_cell_list(cell)
                except json.JSONDecodeError:
                    errors.append(LineError(lineno, "tags", "invalid JSON list"))
            elif name == "metadata":
                if cell.strip():
                    try:
                        obj["metadata"] = json.loads(cell)
                    except json.JSONDecodeError:
                        errors.append(LineError(lineno, "metadata", "invalid JSON object"))
            elif name == "expected":
                obj["expected"] = cell if cell != "" else None
            else:
                obj[name] = cell
        yield lineno, (None if errors else obj), errors


def _iter_checked(source: Any, fmt: str) -> Iterator[tuple[int, Case | None, list[LineError]]]:
    """Stream (line, case|None, errors) including duplicate-id checks; the shared core of both APIs."""
    _check_format(fmt)
    stream, release = _open_text(source, fmt)
    seen: dict[str, int] = {}
    records = _iter_jsonl_records if fmt == "jsonl" else _iter_csv_records
    try:
        for lineno, obj, errors in records(stream):
            if errors or obj is None:
                yield lineno, None, errors
                continue
            case, errors = _validate_fields(obj, lineno)
            if case is None:
                yield lineno, None, errors
                continue
            first = seen.get(case.case_id)
            if first is not None:
                yield lineno, None, [LineError(lineno, "id", f"duplicate case id {case.case_id!r} (first on line {first})")]
                continue
            seen[case.case_id] = lineno
            yield lineno, case, []
    except UnicodeDecodeError as exc:
        yield -1, None, [LineError(0, "file", f"not UTF-8 text ({exc.reason})")]
    finally:
        if release == "close":
            stream.close()
        elif release == "detach":
            stream.detach()  # type: ignore[attr-defined]


def iter_cases(source: str | os.PathLike[str] | IO[Any], fmt: Format = "jsonl") -> Iterator[Case]:
    """Yield validated cases one by one; raise EvalSetError at the first malformed line (with its number).

    Callers that must import "all or nothing" run :func:`validate_file` first, then stream this.
    """
    for _lineno, case, errors in _iter_checked(source, fmt):
        if errors:
            raise EvalSetError(errors)
        assert case is not None
        yield case


def validate_file(
    source: str | os.PathLike[str] | IO[Any],
    fmt: Format = "jsonl",
    *,
    max_errors: int = 1000,
    keep_case_hashes: bool = True,
) -> ValidationReport:
    """Stream the file once: count cases, collect every error (up to max_errors), hash the version.

    Cases are never kept; with keep_case_hashes the {case_id: hash} map needed by diff_versions is returned.
    """
    if not isinstance(max_errors, int) or max_errors < 1:
        raise ValueError("max_errors must be a positive integer")
    hasher = ContentHasher()
    hashes: dict[str, str] | None = {} if keep_case_hashes else None
    errors: list[LineError] = []
    for _lineno, case, line_errors in _iter_checked(source, fmt):
        if line_errors:
            errors.extend(line_errors[: max_errors - len(errors)])
            if len(errors) >= max_errors:
                break
            continue
        assert case is not None
        digest = hasher.update(case)
        if hashes is not None:
            hashes[case.case_id] = digest
    if not errors and hasher.count == 0:
        errors.append(LineError(0, "file", "contains no cases"))
    if errors:
        return ValidationReport(n_cases=hasher.count, errors=errors, content_hash=None, case_hashes=None)
    return ValidationReport(n_cases=hasher.count, errors=[], content_hash=hasher.hexdigest(), case_hashes=hashes)
