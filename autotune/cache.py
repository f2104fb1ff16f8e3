"""The on-disk cache of tuning winners, shared by every process of a user.

One JSON file, `<cache dir>/autotune.json`. Each entry is keyed by kernel, device name and compute
capability, Triton version and the kernel's own tuning key (dtype, shape bucket, layout), so a
driver or Triton upgrade or another GPU simply misses. Writers hold an exclusive `flock` on a
side lock file around read-merge-write, and write a temporary file that `os.replace` swaps in:
readers never see a half-written file and concurrent tuners never drop each other's entries.
A file that cannot be parsed or has another format version is rebuilt with a warning; the cache
is an optimisation, so it is never fatal.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .space import Config, key_string

FORMAT = 1
FILE_NAME = "autotune.json"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: atomic replace still holds, merges may race
    fcntl = None


class CacheWarning(UserWarning):
    """The tuning cache was unreadable or unwritable; tuning goes on without it."""


@dataclass(frozen=True)
class DeviceInfo:
    """What a tuned config depends on besides the kernel: the GPU model and its capability."""

    name: str
    capability: tuple[int, int]

    @property
    def arch(self) -> str:
        return f"sm_{self.capability[0]}{self.capability[1]}"


def cache_dir() -> Path:
    """TRITENSOR_CACHE_DIR, else $XDG_CACHE_HOME/tritensor, else ~/.cache/tritensor."""
    explicit = os.environ.get("TRITENSOR_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tritensor"


def triton_version() -> str:
    import triton

    return triton.__version__


def entry_id(kernel: str, device: DeviceInfo, triton: str, key: str) -> str:
    return f"{kernel}|{device.name}|{device.arch}|triton-{triton}|{key}"


class TuningCache:
    """Winners on disk, with the file's contents mirrored in memory (re-read when the file changes)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else cache_dir() / FILE_NAME
        self._entries: dict[str, dict[str, Any]] = {}
        self._stamp: tuple | None = None
        self._memory_only: dict[str, dict[str, Any]] = {}  # winners the file could not take

    # ------------------------------------------------------------ lookups
    def get(self, kernel: str, device: DeviceInfo, key: Any, spaces: tuple[str, ...] = ("default", "max"),
            triton: str | None = None) -> dict[str, Any] | None:
        """The entry for this kernel/device/Triton/key tuned over one of `spaces`, or None."""
        self._refresh()
        entry = self._entries.get(entry_id(kernel, device, triton or triton_version(), key_string(key)))
        if entry is None or entry.get("space") not in spaces:
            return None
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry in the file (all devices and Triton versions), sorted by kernel then key."""
        self._refresh()
        return sorted(self._entries.values(), key=lambda e: (e["kernel"], e["device"], json.dumps(e["key"])))

    # ------------------------------------------------------------ updates
    def put(self, kernel: str, device: DeviceInfo, key: Any, config: Config, time_ms: float | None,
            space: str = "default", triton: str | None = None, timings: list | None = None,
            throughput: dict | None = None) -> dict[str, Any]:
        """Store a winner: merged into the file under the lock, then swapped in atomically."""
        triton = triton or triton_version()
        key_text = key_string(key)
        entry = {
            "kernel": kernel, "device": device.name, "capability": list(device.capability),
            "triton": triton, "key": json.loads(key_text), "config": dict(config),
            "time_ms": time_ms, "space": space,
            "tuned_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        if timings is not None:
            entry["timings"] = timings
        if throughput:
            entry.update({k: v for k, v in throughput.items() if v is not None})
        ident = entry_id(kernel, device, triton, key_text)
        try:
            with self._locked():
                entries = self._read_for_update()
                entries[ident] = entry
                self._write(entries)
            self._entries = {**entries, **self._memory_only}
            self._stamp = self._file_stamp()
        except OSError as exc:
            first_failure = not self._memory_only
            self._memory_only[ident] = self._entries[ident] = entry  # keep it for this process at least
            if first_failure:
                warnings.warn(f"cannot write the tritensor autotune cache {self.path}: {exc}; winners are "
                              "kept in memory only", CacheWarning, stacklevel=2)
        return entry

    def export(self, path: str | os.PathLike) -> int:
        """Write every entry to `path` in the cache's own format; returns how many."""
        self._refresh()
        entries = {k: v for k, v in self._entries.items()}
        Path(path).write_text(json.dumps({"format": FORMAT, "entries": entries}, indent=1), encoding="utf-8")
        return len(entries)

    def merge_file(self, path: str | os.PathLike) -> int:
        """Merge the entries of a file written by `export` (ValueError names what is wrong with it)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path} is not a tritensor autotune cache ({exc})") from None
        incoming, problem = parse(text)
        if problem is not None:
            raise ValueError(f"{path} is {problem}")
        with self._locked():
            entries = self._read_for_update()
            entries.update(incoming)
            self._write(entries)
        self._entries = {**entries, **self._memory_only}
        self._stamp = self._file_stamp()
        return len(incoming)

    def clear(self) -> None:
        with self._locked():
            self._write({})
        self._entries = {}
        self._memory_only = {}
        self._stamp = self._file_stamp()

    # ------------------------------------------------------------ file handling
    def _file_stamp(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        entries, problem = self._parse_file()
        if problem is not None:
            entries = self._rebuild(problem)
        self._entries = {**entries, **self._memory_only}
        self._stamp = self._file_stamp()

    def _parse_file(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, None
        except (OSError, UnicodeDecodeError) as exc:
            return {}, f"unreadable ({exc})"
        return parse(text)

    def _rebuild(self, problem: str) -> dict[str, dict[str, Any]]:
        try:
            with self._locked():
                entries, still = self._parse_file()  # another process may have rebuilt it meanwhile
                if still is not None:
                    warnings.warn(f"the tritensor autotune cache {self.path} is {still}; rebuilding it "
                                  "(its configs will be tuned again)", CacheWarning, stacklevel=4)
                    entries = {}
                    self._write(entries)
                return entries
        except OSError as exc:
            warnings.warn(f"the tritensor autotune cache {self.path} is {problem} and cannot be rebuilt "
                          f"({exc}); ignoring it", CacheWarning, stacklevel=4)
            return {}

    def _read_for_update(self) -> dict[str, dict[str, Any]]:
        entries, problem = self._parse_file()
        if problem is not None:
            warnings.warn(f"the tritensor autotune cache {self.path} is {problem}; rebuilding it",
                          CacheWarning, stacklevel=4)
            return {}
        return entries

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock on a side file (the data file itself is replaced, so it cannot hold one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        payload = {"format": FORMAT, "entries": entries}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(payload, f, indent=1)  # configs keep their declaration order
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def parse(text: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """(entries, None) for a valid cache file's text, or ({}, what is wrong with it)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, f"not valid JSON ({exc})"
    if not isinstance(data, dict) or "format" not in data:
        return {}, "not a tritensor autotune cache"
    if data["format"] != FORMAT:
        return {}, f"in format version {data['format']!r} (this tritensor reads {FORMAT})"
    entries = data.get("entries")
    if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("config"), dict) and "kernel" in e and "key" in e
            for e in entries.values()):
        return {}, "malformed (bad entries)"
    return entries, None
