"""Unpack dataset archives (.zip, .tar[.gz|.bz2|.xz], .rar), safely and all-or-nothing.

Every member name is checked before anything is written: one that would land outside
the target (an absolute path, `..`, a link pointing out) refuses the whole archive.
Members are unpacked into a temporary sibling of the target and moved into place only
when all of them are out, so a failure leaves no half-extracted tree.

Python reads zip and tar itself; RAR (UCF101 ships as one) needs an external tool.
"""

import json
import lzma
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# What a corrupt or truncated archive raises while being read (gzip and bz2 raise OSError).
_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError)


class ArchiveError(Exception):
    pass


class UnsafeArchiveError(ArchiveError):
    def __init__(self, archive: Path, member: str, reason: str) -> None:
        super().__init__(f"{archive}: refusing member {member!r}: {reason}")
        self.archive = archive
        self.member = member


def extract(archive: Path, target: Path) -> list[Path]:
    """Unpack `archive` into the directory `target`; returns the extracted files, sorted.

    `target` may exist already, as long as none of the archive's top-level entries does.
    Raises UnsafeArchiveError, or ArchiveError for an unsupported, corrupt or clashing
    archive; in both cases nothing is left in or beside `target`.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    unpack = _unpacker(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its 0700 mode would become the target's once renamed.
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed run that had this pid
    staging.mkdir()
    try:
        try:
            unpack(archive, staging)
        except _READ_ERRORS as error:
            raise ArchiveError(f"cannot extract {archive}: {error}") from error
        files = _files_inside(archive, staging)
        _move_into_place(archive, staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(target / name for name in files)


def _unpacker(archive: Path) -> Callable[[Path, Path], None]:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return _unpack_zip
    if name.endswith(TAR_SUFFIXES):
        return _unpack_tar
    if name.endswith(".rar"):
        return _unpack_rar
    raise ArchiveError(f"{archive}: unsupported archive type (zip, tar, tar.gz/bz2/xz, rar)")


def _check_name(archive: Path, root: Path, name: str) -> None:
    """Refuse a member name that does not resolve to a path inside `root` (resolved)."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        raise UnsafeArchiveError(archive, name, "absolute path")
    if not (root / name).resolve().is_relative_to(root):
        raise UnsafeArchiveError(archive, name, "resolves outside the target")


def _unpack_zip(archive: Path, staging: Path) -> None:
    root = staging.resolve()
    with zipfile.ZipFile(archive) as zipped:
        # zipfile writes a symlink member as a plain file holding the link text, so names
        # are the only way out of the target.
        for name in zipped.namelist():
            _check_name(archive, root, name)
        zipped.extractall(staging)


def _unpack_tar(archive: Path, staging: Path) -> None:
    root = staging.resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            _check_name(archive, root, member.name)
            if member.issym() or member.islnk():
                if member.linkname.startswith("/"):
                    raise UnsafeArchiveError(archive, member.name, "link to an absolute path")
                # A symlink is relative to its own folder, a hard link to the archive root.
                base = (root / member.name).parent if member.issym() else root
                if not (base / member.linkname).resolve().is_relative_to(root):
                    raise UnsafeArchiveError(archive, member.name, "link points outside")
            elif member.isdev():
                raise UnsafeArchiveError(archive, member.name, "device file")
        # The "data" filter re-checks at write time what names alone cannot show (a path
        # through a symlink extracted earlier); whatever it refuses stays in the staging dir.
        try:
            tar.extractall(staging, members=members, filter="data")
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(archive, error.tarinfo.name, str(error)) from error


@dataclass(frozen=True)
class _RarTool:
    binary: str
    debian_package: str
    list_command: Callable[[Path], list[str]]
    parse_listing: Callable[[str], list[str]]
    extract_command: Callable[[Path, Path], list[str]]


def _parse_7z_listing(listing: str) -> list[str]:
    # `7z l -slt` prints "Path = ..." for the archive itself above the "----------" line,
    # then one block per member.
    members = listing.partition("\n----------\n")[2]
    return [line[len("Path = ") :] for line in members.splitlines() if line.startswith("Path = ")]


# Probed in this order; the first one on PATH is used.
_RAR_TOOLS = (
    _RarTool(
        "unrar",
        "unrar",
        lambda archive: ["unrar", "lb", "-p-", str(archive)],
        str.splitlines,
        lambda archive, dest: ["unrar", "x", "-p-", "-o-", "-idq", str(archive), f"{dest}/"],
    ),
    _RarTool(
        "unar",
        "unar",
        lambda archive: ["lsar", "-j", str(archive)],
        lambda listing: [entry["XADFileName"] for entry in json.loads(listing)["lsarContents"]],
        lambda archive, dest: ["unar", "-q", "-D", "-o", str(dest), str(archive)],
    ),
    _RarTool(
        "bsdtar",
        "libarchive-tools",
        lambda archive: ["bsdtar", "-tf", str(archive)],
        str.splitlines,
        lambda archive, dest: ["bsdtar", "-xf", str(archive), "-C", str(dest)],
    ),
    _RarTool(
        "7z",
        "7zip or p7zip-full",
        lambda archive: ["7z", "l", "-slt", str(archive)],
        _parse_7z_listing,
        lambda archive, dest: ["7z", "x", "-y", f"-o{dest}", str(archive)],
    ),
)


def _rar_tool() -> _RarTool:
    """The first RAR extractor found on PATH; ArchiveError saying what to install if none."""
    for tool in _RAR_TOOLS:
        if shutil.which(tool.binary):
            return tool
    options = ", ".join(
        f"{tool.binary} (Debian package {tool.debian_package})" for tool in _RAR_TOOLS
    )
    raise ArchiveError(
        f"extracting .rar needs one of: {options}; e.g. `sudo apt-get install unar` "
        "or `conda install -c conda-forge libarchive`"
    )


def _unpack_rar(archive: Path, staging: Path) -> None:
    tool = _rar_tool()
    root = staging.resolve()
    for name in tool.parse_listing(_run(archive, tool.list_command(archive))):
        _check_name(archive, root, name)
    _run(archive, tool.extract_command(archive, staging))


def _run(archive: Path, command: list[str]) -> str:
    # No stdin: a tool asking for the password of an encrypted archive fails instead of
    # waiting forever (unrar reads the terminal, hence its `-p-`).
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        raise ArchiveError(
            f"cannot extract {archive}: `{' '.join(command)}` exited with {result.returncode}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout


def _files_inside(archive: Path, staging: Path) -> list[Path]:
    """Every non-directory under `staging`, relative to it; refuses links pointing out.

    For RAR the tools do not list link targets, so links are judged here, once unpacked
    (still in the staging dir, which is deleted on refusal).
    """
    root = staging.resolve()
    files = []
    for folder, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = Path(folder, name)
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise UnsafeArchiveError(
                    archive, str(path.relative_to(staging)), "link points outside"
                )
            if name in filenames or path.is_symlink():
                files.append(path.relative_to(staging))
    return files


def _move_into_place(archive: Path, staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)  # one atomic rename
        return
    entries = sorted(staging.iterdir())
    clashes = [target / entry.name for entry in entries if os.path.lexists(target / entry.name)]
    if clashes:
        raise ArchiveError(f"cannot extract {archive}: {clashes[0]} already exists")
    for entry in entries:
        os.replace(entry, target / entry.name)
