"""Sources to parsed JSON: files, folders, bytes, text and dicts, with limits enforced.

A *unit* is what patients are grouped within: one JSON file (a Bundle or a resource), or all the
NDJSON files of a folder together (a Bulk Data export spreads one patient over one file per
resource type). Limits are checked before parsing (bytes, while decompressing) and, for the
nesting depth, by the parser itself (a document up to 16 MB, parsed inside a fixed number of
arrays) or by a cheap bracket scan before ``orjson.loads``.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import gc
import gzip
import io
import lzma
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskcalc.config import Limits
from riskcalc.errors import InputError, Issue

_JSON_SUFFIXES = (".json",)
_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_COMPRESSED = (".gz", ".bz2")
_BOM = b"\xef\xbb\xbf"
#: The byte order marks of UTF-16 (little-endian, big-endian): a hint in the encoding error.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OPEN = b"{["
_CLOSE = b"}]"
_NONSPACE = re.compile(rb"\S")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while JSON is parsed.

    A parsed JSON tree holds no reference cycles, but building one allocates a container per
    object and array, and each allocation burst triggers collections that walk every live
    container again: ``orjson.loads`` of a 60 MB Bundle took 1.2 s with the collector on and
    0.5 s with it paused (docs/performance.md). Reference counting still frees everything; the
    collector's state is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def kept_from_collector() -> Iterator[None]:
    """Keep everything alive now (a parsed unit, above all) out of the collector's sight.

    ``gc.freeze`` moves every tracked object into the permanent generation, which collections
    never walk; ``gc.unfreeze`` moves them back into the oldest one afterwards. Without it, the
    collections set off while a large unit's histories are built walk its whole parsed JSON
    again and again: reading a 20,000-patient export (153 MB of NDJSON) took 14.2 s, 10.3 s with
    the unit frozen and 9.0 s with the collector off altogether (docs/performance.md). Frozen objects are still freed by reference
    counting. If something else has frozen objects (the CDS Hooks service freezes its start-up
    state), nothing is done: ``unfreeze`` cannot tell whose objects it would release.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


#: Given a folder's JSON files (the reader's order), the sets of them to read as one unit each.
Join = Callable[[list[str], Limits], list[tuple[str, ...]]]


@dataclass
class Document:
    """One parsed JSON value with where it came from."""

    label: str
    value: Any


@dataclass
class Unit:
    """Parsed inputs whose patients are grouped together."""

    label: str
    documents: list[Document] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def _kind(path: Path) -> str | None:
    """'json', 'ndjson' or None for a file name (compression suffix ignored)."""
    name = path.name.lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(_JSON_SUFFIXES):
        return "json"
    if name.endswith(_NDJSON_SUFFIXES):
        return "ndjson"
    return None


def read_bytes(path: Path, limits: Limits, *, base: str | None = None) -> bytes:
    """Read (and decompress) a file, refusing more than ``limits.max_bytes``.

    ``base``: the folder a relative ``path`` is relative to, if not this process's working
    directory (a Dask worker's is its own); messages name ``path`` as given either way.
    """
    name = path.name.lower()
    cap = limits.max_bytes
    at = path if base is None else Path(base, path)
    if name.endswith(_COMPRESSED):
        opener = gzip.open if name.endswith(".gz") else bz2.open
        return _inflated(lambda: opener(at, "rb"), str(path), cap)
    try:
        if at.stat().st_size > cap:
            raise InputError(
                "input.too_large",
                f"{path} is {at.stat().st_size} bytes; the limit is {cap}",
                location=str(path),
            )
        return at.read_bytes()
    except OSError as exc:
        raise InputError(
            "input.not_found", f"cannot read {path}: {exc}", location=str(path)
        ) from exc


def decompressed(data: bytes, label: str, limits: Limits) -> bytes:
    """``data`` itself, or its content if it is gzip or bzip2 data (told by their magic bytes,
    which JSON text never starts with): an uploaded ``.json.gz`` reads as its file does."""
    if data[:2] == b"\x1f\x8b":
        return _inflated(lambda: gzip.GzipFile(fileobj=io.BytesIO(data)), label, limits.max_bytes)
    if data[:3] == b"BZh" and data[3:4].isdigit():
        return _inflated(lambda: bz2.BZ2File(io.BytesIO(data)), label, limits.max_bytes)
    return data


def _inflated(
    open_stream: Callable[[], gzip.GzipFile | bz2.BZ2File], where: str, cap: int
) -> bytes:
    """All of a decompressing stream, refusing more than ``cap`` bytes of content."""
    try:
        with open_stream() as fh:
            data = fh.read(cap + 1)
    except FileNotFoundError as exc:
        raise InputError("input.not_found", f"cannot read {where}: {exc}", location=where) from exc
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:  # BadGzipFile is an OSError
        raise InputError(
            "input.decompression", f"{where} is corrupt or truncated: {exc}", location=where
        ) from exc
    if len(data) > cap:
        raise InputError(
            "input.too_large",
            f"{where} holds more than {cap} bytes (after decompression)",
            location=where,
        )
    return data


def max_depth(data: bytes, *, block_bytes: int = 1 << 15) -> int:
    """Deepest ``{``/``[`` nesting of JSON text, brackets inside strings ignored.

    Far cheaper than parsing: ``bytes.translate`` (C) keeps only the quotes and brackets, about
    a twelfth of FHIR JSON, leaving out the quotes that an odd run of backslashes escapes; numpy
    then finds the brackets outside strings (an even number of quotes before them) and their
    running depth, in blocks of ``block_bytes`` that carry the depth and the quote parity across.
    300 KB of Synthea JSON in about 0.15 ms and 3 MB in 1.9 ms, against 0.3 and 3.5 ms for the
    same numpy scan over every byte (docs/performance.md). Exact for valid JSON; for invalid
    JSON the parser reports the error anyway.

    >>> max_depth(b'{"a": [1, {"b": "]]\\\\"]"}], "c": ""}')
    3
    """
    codes = structural_codes(data)
    depth = deepest = quotes_before = 0
    for start in range(0, len(codes), block_bytes):
        block = codes[start : start + block_bytes]
        # int32 sums (a block is far shorter than 2**31) keep the temporaries small and cached
        is_quote = block == _QUOTE
        quotes = np.cumsum(is_quote, dtype=np.int32)
        outside = ~is_quote & ((quotes + (quotes_before & 1)) & 1 == 0)
        quotes_before += int(quotes[-1])
        brackets = block[outside]
        if brackets.size == 0:
            continue
        # "{" 0x7B and "[" 0x5B have bit 0x02 set, "}" 0x7D and "]" 0x5D do not: +1 / -1
        running = np.cumsum((brackets & 2).astype(np.int8) - 1, dtype=np.int32)
        deepest = max(deepest, depth + int(running.max()))
        depth += int(running[-1])
    return deepest


def structural_codes(data: bytes, *, newlines: bool = False) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The unescaped quotes and the brackets of JSON text, in order: what nesting depends on
    (and, with ``newlines``, the line ends, for NDJSON).

    ``bytes.translate`` (C) deletes every other byte, piece by piece between the escaped quotes
    (a piece is still in cache when it is translated).
    """
    delete = _NOT_STRUCTURAL_OR_NEWLINE if newlines else _NOT_STRUCTURAL
    pieces, at = [], 0
    for quote in _escaped_quotes(data):
        pieces.append(data[at:quote].translate(None, delete))
        at = quote + 1
    pieces.append((data[at:] if at else data).translate(None, delete))
    return np.frombuffer(pieces[0] if len(pieces) == 1 else b"".join(pieces), dtype=np.uint8)


def deep_lines(data: bytes, limit: int, *, block_bytes: int = 1 << 22) -> dict[int, int]:
    """The lines of NDJSON text nested deeper than ``limit``: line number (from 1, lines split
    on ``\\n``) to depth.

    Each line is a JSON document of its own, and a raw newline cannot occur inside a JSON
    string, so the depth and the string state start afresh at every newline: a truncated line
    (brackets left open, a quote left open) says nothing about the next. Computed on the
    structural codes of blocks of about ``block_bytes`` that end on line ends (numpy: the
    running depth of each bracket less the running depth at its line's start), so the
    temporaries stay a few MB whatever the file's size. Exact for valid JSON lines; for an
    invalid one, the depth its brackets give (a line that is not too deep fails to parse).

    >>> deep_lines(b'[[[]]]\\n{"a": "[[[["}\\n[[[[\\n[]', 2)
    {1: 3, 3: 4}
    """
    out: dict[int, int] = {}
    first_line, start = 1, 0
    while start < len(data):
        end = data.find(b"\n", start + block_bytes) if start + block_bytes < len(data) else -1
        end = len(data) if end < 0 else end + 1
        block = data[start:end]
        for line, depth in _deep_lines_of_block(block, limit):
            out[first_line + line] = depth
        first_line += block.count(b"\n")
        start = end
    return out


def _deep_lines_of_block(block: bytes, limit: int) -> list[tuple[int, int]]:
    """(line index in the block from 0, depth) of each line deeper than ``limit``."""
    codes = structural_codes(block, newlines=True)
    if codes.size == 0:
        return []
    is_newline = codes == _NEWLINE
    is_quote = codes == _QUOTE
    quotes = np.cumsum(is_quote, dtype=np.int32)
    # "{" 0x7B and "[" 0x5B have bit 0x02 set, "}" 0x7D and "]" 0x5D do not: +1 / -1
    signs = (codes & 2).astype(np.int8) - 1
    steps = np.where(~is_quote & ~is_newline & ((quotes & 1) == 0), signs, 0)
    depth = np.cumsum(steps, dtype=np.int32)
    ends = np.flatnonzero(is_newline)
    if (quotes[ends] & 1).any() or depth[ends].any():
        # a line left a string or a bracket open: start every line afresh
        line_start = np.maximum.accumulate(np.where(is_newline, np.arange(codes.size), -1))
        first, at_start = line_start < 0, np.maximum(line_start, 0)
        quotes = quotes - np.where(first, 0, quotes[at_start])
        steps = np.where(~is_quote & ~is_newline & ((quotes & 1) == 0), signs, 0)
        depth = np.cumsum(steps, dtype=np.int32)
        depth = depth - np.where(first, 0, depth[at_start])
    # else every line ends where it started (depth 0, outside strings): the running figures are
    # already each line's own, the common case, at the cost of one pass
    too_deep = np.flatnonzero(depth > limit)
    if too_deep.size == 0:
        return []
    lines = np.searchsorted(ends, too_deep)  # the newlines before a position: its line
    found, where = np.unique(lines, return_index=True)
    deepest = np.maximum.reduceat(depth[too_deep], where)
    return list(zip(found.tolist(), deepest.tolist(), strict=True))


def _escaped_quotes(data: bytes) -> list[int]:
    """Offsets of the quotes that follow an odd run of backslashes (escaped, inside a string).

    Backslashes are rare in FHIR JSON, and ``find`` of one byte is a ``memchr``: each run is
    found, measured by a regular expression and passed over whole.
    """
    out: list[int] = []
    at = data.find(b"\\")
    while at >= 0:
        end = _BACKSLASH_RUN.match(data, at).end()  # type: ignore[union-attr]  # it matches at a backslash
        if (end - at) % 2 and data[end : end + 1] == b'"':
            out.append(end)
        at = data.find(b"\\", end)
    return out


_QUOTE = ord('"')
_NEWLINE = ord("\n")
_BACKSLASH_RUN = re.compile(rb"\\+")
#: Every byte but the quote and the four brackets: what the nesting scan deletes.
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b'"{}[]')
#: The same, keeping the line ends (NDJSON: each line its own document).
_NOT_STRUCTURAL_OR_NEWLINE = bytes(b for b in range(256) if b not in b'"{}[]\n')


def _check_depth(data: bytes, limits: Limits, label: str) -> None:
    depth = max_depth(data)
    if depth > limits.max_depth:
        raise InputError(
            "input.too_deep",
            f"{label} nests {depth} levels deep; the limit is {limits.max_depth}",
            location=label,
        )


#: orjson's own nesting limit: it parses 1024 nested arrays or objects and refuses 1025
#: (tests/fhir/test_fhir_depth_scan.py holds it to that).
PARSER_MAX_DEPTH = 1024
#: Up to this size a document's depth is checked by the parser itself (see _loads_within_depth):
#: the check then costs a copy of the bytes, not a scan, and the copy's memory is small.
_BOUNDED_PARSE_MAX_BYTES = 16 << 20


@functools.cache
def _depth_padding(levels: int) -> tuple[bytes, bytes]:
    return b"[" * levels, b"]" * levels


def _loads_within_depth(data: bytes, limit: int) -> tuple[bool, Any]:
    """(True, the parsed value) if ``data`` is one JSON value nested at most ``limit`` deep;
    (False, None) otherwise (too deep, not JSON, or more than one value).

    ``data`` is parsed inside ``PARSER_MAX_DEPTH - limit`` arrays of one element each, so the
    parser's own depth limit is reached exactly when the document nests deeper than ``limit``:
    the depth is checked in the parse, for the price of one copy of the bytes. The wrapping is
    then taken off, one level at a time; a level of more than one element means the text was
    not a single value (``1], [2`` inside the wrapping parses as two lists). Exact
    for every text: a False sends the caller to the scan and the plain parse, which tell why.
    """
    levels = PARSER_MAX_DEPTH - limit
    head, tail = _depth_padding(levels)
    try:
        value = orjson.loads(b"".join((head, data, tail)))
    except orjson.JSONDecodeError:
        return False, None
    try:
        for _ in range(levels):
            # every level is one of the wrapping lists (its first item is the next one): an
            # unpacking of one item, which fails on a level of more
            [value] = value
    except ValueError:
        return False, None
    return True, value


def _first_non_utf8(data: bytes) -> tuple[int, int, str] | None:
    """Where ``data`` first stops being UTF-8: ``(line from 1, byte of that line from 1, what is
    there)``; None if it is UTF-8 throughout.

    orjson says only "str is not valid UTF-8: surrogates not allowed" at line 1, column 1,
    whatever the byte and wherever it is; Python's decoder finds the byte (the error path only).

    >>> _first_non_utf8('{"family": "Müller"}'.encode("latin-1"))
    (1, 14, '0xfc (invalid start byte)')
    >>> _first_non_utf8('{"family": "Müller"}'.encode()) is None
    True
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        what = f"0x{data[exc.start]:02x} ({exc.reason})"
        if data.startswith(_UTF16_BOMS):
            what += "; the text starts with the byte order mark of UTF-16"
        return data.count(b"\n", 0, exc.start) + 1, exc.start - line_start + 1, what
    return None


def _syntax_error(exc: orjson.JSONDecodeError, data: bytes, label: str) -> InputError:
    if "utf-8" in str(exc).lower():
        first_bad = _first_non_utf8(data)
        if first_bad is None:  # orjson's word for it, if Python's decoder finds nothing wrong
            return InputError("input.encoding", f"{label} is not UTF-8 text: {exc}", location=label)
        line, byte, what = first_bad
        return InputError(
            "input.encoding",
            f"{label} is not UTF-8 text: line {line}, byte {byte} of the line is {what}; "
            "save the file as UTF-8",
            location=f"{label}:{line}:{byte}",
        )
    where = f"{label}:{exc.lineno}:{exc.colno}"
    if "depth limit" in str(exc).lower():
        # orjson's own nesting limit (1024), reached when Limits.max_depth was raised above it
        return InputError(
            "input.too_deep",
            f"{label} nests deeper than the JSON parser's limit of 1024 levels",
            location=where,
        )
    return InputError("input.json_syntax", f"{label} is not valid JSON: {exc.msg}", location=where)


def parse_json(data: bytes, label: str, limits: Limits) -> Any:
    """Parse one JSON document after the byte and depth checks."""
    if len(data) > limits.max_bytes:
        raise InputError(
            "input.too_large", f"{label} is {len(data)} bytes; the limit is {limits.max_bytes}"
        )
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data or data.isspace():
        raise InputError(
            "input.json_syntax", f"{label} is empty (no JSON in it)", location=f"{label}:1:1"
        )
    with gc_paused():
        if limits.max_depth < PARSER_MAX_DEPTH and len(data) <= _BOUNDED_PARSE_MAX_BYTES:
            ok, value = _loads_within_depth(data, limits.max_depth)
            if ok:
                return value
        # too deep or not JSON (the scan and the plain parse say which, and where), or large
        _check_depth(data, limits, label)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _syntax_error(exc, data, label) from exc


def parse_ndjson(data: bytes, label: str, limits: Limits, unit: Unit, *, is_log: bool) -> None:
    """Parse NDJSON lines into ``unit``; a bad line is an ``ndjson.bad_line`` issue, not an error.

    A line nested deeper than ``limits.max_depth`` is a bad line too, and is not parsed (the
    limit applies to each line: every line is a document of its own). Lines of an export log (``log.ndjson``: JSON objects without ``resourceType``) are expected
    and skipped without an issue.
    """
    if len(data) > limits.max_bytes:
        raise InputError(
            "input.too_large", f"{label} is {len(data)} bytes; the limit is {limits.max_bytes}"
        )
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    with gc_paused():
        _parse_lines(data, label, unit, is_log=is_log, limit=limits.max_depth)


def _parse_lines(data: bytes, label: str, unit: Unit, *, is_log: bool, limit: int) -> None:
    for lineno, _, read in ndjson_lines(data, limit, is_log=is_log):
        where = f"{label}:{lineno}"
        if isinstance(read, str):
            unit.issues.append(Issue(code="ndjson.bad_line", message=read, source=where))
        else:
            unit.documents.append(Document(where, read))


def ndjson_lines(
    data: bytes, limit: int, *, is_log: bool
) -> Iterator[tuple[int, bytes, dict[str, Any] | str]]:
    """Each line of NDJSON text as the reader reads it (one rule for the reader and the Dask
    engine): ``(line number from 1, the line, the resource or the ndjson.bad_line message)``.

    Blank lines, and lines of an export log (``is_log``: JSON objects without a
    ``resourceType``), give nothing. A line nested deeper than ``limit`` is a bad line, not
    parsed (:func:`deep_lines`).
    """
    deep = deep_lines(data, limit)
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        if deep and lineno in deep:
            yield (
                lineno,
                line,
                f"line nests {deep[lineno]} levels deep; the limit is {limit} "
                "(Limits.max_depth); not read",
            )
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            first_bad = _first_non_utf8(line) if "utf-8" in exc.msg.lower() else None
            if first_bad is None:
                yield lineno, line, f"not JSON: {exc.msg}"
            else:
                _, byte, what = first_bad
                yield lineno, line, f"not UTF-8 text: byte {byte} of the line is {what}"
            continue
        if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
            yield lineno, line, value
        elif not (is_log and isinstance(value, dict)):
            yield lineno, line, "line is not a FHIR resource (no resourceType)"


def _looks_like_ndjson(data: bytes) -> bool:
    """Two or more non-blank lines, the first a JSON object (without copying the whole data)."""
    m = _NONSPACE.search(data)
    if m is None:
        return False
    pos = m.start()
    lines: list[bytes] = []
    for _ in range(2):
        nl = data.find(b"\n", pos)
        if nl < 0:
            lines.append(data[pos:])
            pos = len(data)
            break
        lines.append(data[pos:nl])
        pos = nl + 1
    count = sum(1 for ln in lines if ln.strip())
    if len(lines) == 2 and _NONSPACE.search(data, pos) is not None:
        count += 1
    if count < 2:
        return False
    try:
        first = orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        return False
    return isinstance(first, dict)


def _unit_from_bytes(data: bytes, label: str, limits: Limits, kind: str | None) -> Unit:
    unit = Unit(label)
    if kind == "ndjson" or (kind is None and _looks_like_ndjson(data)):
        is_log = Path(label).name.lower().startswith("log.ndjson")
        parse_ndjson(data, label, limits, unit, is_log=is_log)
    else:
        value = parse_json(data, label, limits)
        check_fhir(value, label)
        unit.documents.append(Document(label, value))
    return unit


def check_fhir(value: Any, label: str) -> None:
    """Refuse a top-level JSON value that is not a FHIR resource (``input.not_fhir``).

    A JSON file or text must hold one resource or Bundle: an object with a string
    ``resourceType``. ``null``, a number, a string or an array (even of resources) is not FHIR.
    """
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return
    found = (
        "an object without a string 'resourceType'"
        if isinstance(value, dict)
        else f"a JSON {_json_kind(value)}"
    )
    raise InputError(
        "input.not_fhir",
        f"{label} holds {found}; expected a FHIR resource or Bundle (an object with a "
        "'resourceType')",
        location=label,
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and _kind(p) is not None),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def iter_units(
    source: Any, limits: Limits, *, join: Join | None = None, label: str | None = None
) -> Iterator[Unit | InputError]:
    """Yield the units of a source.

    A single file, bytes, text or dict gives one unit and raises on failure. A folder yields
    one unit per JSON file (in sorted relative-path order) then one unit for all its NDJSON
    files; a file that cannot be read there is yielded as an :class:`InputError` and the rest
    go on. ``join``, given a folder's JSON files in that order, names the sets of files to read
    as one unit each (:func:`read_joined`, in the place of the set's first file). ``label``
    names an in-memory source (bytes, text, dict) in locations and messages, e.g. the name of
    an uploaded file (default ``<bytes>``, ``<text>``, ``<dict>``); bytes may be gzip or bzip2
    data (:func:`decompressed`).
    """
    if isinstance(source, dict):
        where = label or "<dict>"
        _check_dict_depth(source, limits)
        check_fhir(source, where)
        yield Unit(where, [Document(where, source)])
        return
    if isinstance(source, bytes | bytearray | memoryview):
        where = label or "<bytes>"
        data = decompressed(bytes(source), where, limits)
        yield _unit_from_bytes(data, where, limits, None)
        return
    if isinstance(source, str):
        # text read from a file with a byte-order mark (open(..., encoding="utf-8")) starts
        # with U+FEFF, which is not white space; parse_json drops it as it does the bytes' BOM
        text = source.removeprefix("\ufeff").lstrip()
        if not text or text[:1] in ("{", "[") or "\n" in source or len(source) > 4096:
            # an empty string is empty input, never the current directory (Path("") is ".")
            yield _unit_from_bytes(source.encode("utf-8"), label or "<text>", limits, None)
            return
        source = Path(source)
    if not isinstance(source, Path):
        raise InputError(
            "input.unsupported_source",
            f"cannot read a {type(source).__name__}; pass a path, bytes, str or dict",
        )
    try:
        is_dir = source.is_dir()
        exists = is_dir or source.exists()
    except (OSError, ValueError) as exc:  # a name too long, an embedded NUL byte
        raise InputError(
            "input.not_found", f"cannot open {str(source)[:200]}: {exc}", location=str(source)
        ) from exc
    if is_dir:
        yield from _iter_folder(source, limits, join)
        return
    if not exists:
        raise InputError("input.not_found", f"{source} does not exist", location=str(source))
    kind = _kind(source)
    if kind is None:
        raise InputError(
            "input.unsupported_source",
            f"{source.name}: expected .json or .ndjson, optionally .gz or .bz2",
            location=str(source),
        )
    yield _unit_from_bytes(read_bytes(source, limits), str(source), limits, kind)


def _iter_folder(folder: Path, limits: Limits, join: Join | None) -> Iterator[Unit | InputError]:
    pool = Unit(str(folder))
    has_ndjson = False
    files = _files(folder)
    joined: dict[str, tuple[str, ...]] = {}
    if join is not None:
        for paths in join([str(p) for p in files if _kind(p) == "json"], limits):
            joined.update((p, paths) for p in paths)
    for path in files:
        kind = _kind(path)
        together = joined.get(str(path))
        if together is not None:
            if together[0] == str(path):
                yield from read_joined(together, limits)
            continue
        try:
            data = read_bytes(path, limits)
            if kind == "ndjson":
                has_ndjson = True
                parse_ndjson(
                    data, str(path), limits, pool, is_log=path.name.lower().startswith("log.")
                )
            else:
                yield _unit_from_bytes(data, str(path), limits, kind)
        except InputError as exc:
            yield exc
    if has_ndjson:
        yield pool


def read_joined(
    paths: Sequence[str], limits: Limits, *, base: str | None = None
) -> Iterator[Unit | InputError]:
    """The JSON files ``paths`` as one unit: their documents together, each with its own
    label, so that one patient's record split over them is grouped (and de-duplicated) as one.

    A file that cannot be read is yielded as its :class:`InputError`, first; the unit of the
    rest follows (labelled by its first file and the count of the others). ``base`` as
    :func:`read_bytes` takes it.
    """
    units: list[Unit] = []
    for path in paths:
        try:
            units.append(json_file_unit(path, limits, base=base))
        except InputError as exc:
            yield exc
    if units:
        yield join_units(units)


def json_file_unit(path: str, limits: Limits, *, base: str | None = None) -> Unit:
    """One JSON file of a folder as its own unit; raises :class:`InputError` if it cannot be
    read. ``base`` as :func:`read_bytes` takes it."""
    return _unit_from_bytes(read_bytes(Path(path), limits, base=base), path, limits, "json")


def join_units(units: Sequence[Unit]) -> Unit:
    """Units as one: their documents and issues together, labelled by the first unit and the
    count of the others (one unit is itself)."""
    if len(units) == 1:
        return units[0]
    return Unit(
        f"{units[0].label} and {len(units) - 1} other file(s)",
        [doc for u in units for doc in u.documents],
        [issue for u in units for issue in u.issues],
    )


#: orjson's own nesting limit when it serialises: 254 levels, refused at 255
#: (tests/fhir/test_fhir_depth_scan.py holds it to that).
SERIALIZER_MAX_DEPTH = 254


def _dumps_within_depth(value: Any, limit: int) -> bool:
    """True if ``value`` nests at most ``limit`` deep, told by orjson serialising it inside
    ``SERIALIZER_MAX_DEPTH - limit`` one-item lists (its depth limit is then reached exactly
    when ``value`` nests deeper); False if it nests deeper or is not plain JSON data.

    A True is exact: orjson counts every dict and list the walk of :func:`_check_dict_depth`
    counts (and any other container it serialises). A False sends the caller to the walk, which
    gives the depth. The serialised copy is made and dropped (a dict source's Python objects
    take several times its JSON); the walk it saves costs 8-11 times as much on a 0.6 MB CDS
    Hooks prefetch (figures in docs/performance.md).
    """
    wrapped = value
    for _ in range(SERIALIZER_MAX_DEPTH - limit):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True


def _check_dict_depth(value: Any, limits: Limits) -> None:
    if limits.max_depth < SERIALIZER_MAX_DEPTH and _dumps_within_depth(value, limits.max_depth):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise InputError(
                "input.too_deep",
                f"the dict nests deeper than the limit of {limits.max_depth}",
                location="<dict>",
            )
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
