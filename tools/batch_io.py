"""Row files for batch decisions: CSV or JSON Lines in, the same out, streamed, resumable.

The format follows the file's suffix (`.csv`; `.jsonl`, `.ndjson` or `.json` for JSON Lines). Rows are read
one at a time and written one at a time (flushed), so memory stays flat and an interrupted batch leaves a
valid prefix behind: `resume_point` reads how many input rows an existing output already answers (a torn
last line is cut off), and the batch carries on after it.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class RowFileError(ValueError):
    """An input or output file that cannot be used (unknown format, unreadable); says which and why."""


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RowFileError(f"{path}: unknown format {path.suffix or '(no suffix)'!r}; use .csv or .jsonl "
                           "(未知格式，请使用 .csv 或 .jsonl)")
    return fmt


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number from 1, the row as a dict) for every input row; a line that is not a JSON object yields
    the problem as a string instead, so the batch can answer it with an error row and go on."""
    fmt = file_format(path)
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise RowFileError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        if fmt == "csv":
            for n, row in enumerate(csv.DictReader(f), 1):
                yield n, {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
            return
        n = 0
        for line in f:
            if not line.strip():
                continue
            n += 1
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, f"not valid JSON ({e.msg}) / 不是有效的 JSON"
                continue
            yield n, obj if isinstance(obj, dict) else "expected a JSON object / 应为 JSON 对象"


def resume_point(path: Path) -> int:
    """The last input row number an existing output answers (0 for none), after cutting off a torn last line."""
    if not path.exists():
        return 0
    fmt = file_format(path)
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):  # an interrupted write: drop the partial line
            f.truncate(end)
    last = 0
    with path.open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f) if fmt == "csv" else (json.loads(line) for line in f if line.strip())
        for row in rows:
            last = max(last, int(row["row"]))
    return last


class RowWriter:
    """Appends output rows (dicts with the same keys) to a CSV or JSON Lines file, one flushed line each.
    CSV cells that hold a list or object are JSON text."""

    def __init__(self, path: Path, columns: list[str]):
        self.fmt, self.columns = file_format(path), columns
        fresh = not path.exists() or path.stat().st_size == 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f: IO[str] = path.open("a", newline="", encoding="utf-8")
        self.csv = csv.DictWriter(self.f, fieldnames=columns) if self.fmt == "csv" else None
        if self.csv and fresh:
            self.csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.csv:
            self.csv.writerow({k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                               for k, v in row.items()})
        else:
            self.f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()

    def __enter__(self) -> "RowWriter":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
