"""Download one file over HTTP(S): resumable, retried, verified by size and checksum.

What is left on disk, by outcome:
- success: `dest`, verified; no `.part`.
- HTTP 4xx (404, 403, ...), wrong size, checksum mismatch: neither `dest` nor `.part`;
  these do not get better by asking again, so nothing is kept to resume.
- transient failure after the last retry (HTTP 5xx, connection error or timeout, a body
  shorter than its Content-Length): no `dest`; `dest.part` keeps the bytes received so
  far, and the next call resumes from them with a Range request.
"""

import hashlib
import http.client
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Waits between attempts are BACKOFF_S, 2 * BACKOFF_S, 4 * BACKOFF_S, ...
BACKOFF_S = 2.0
# Some dataset hosts refuse urllib's default "Python-urllib/x.y" agent.
USER_AGENT = "avrepro/0.1 (dataset download)"
# Worth retrying; a local OSError (disk full) is not, so OSError as a whole is not caught.
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


class DownloadError(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot download {url}: {reason}")
        self.url = url
        self.reason = reason


class ChecksumError(DownloadError):
    def __init__(self, url: str, expected: str, actual: str, algorithm: str = "sha256") -> None:
        super().__init__(url, f"{algorithm} is {actual}, expected {expected}")
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm


class _Transient(Exception):
    """A failure that may go away when asked again: 5xx, connection trouble, truncation."""


def download_file(
    url: str,
    dest: Path,
    sha256: str | None = None,
    expected_size: int | None = None,
    retries: int = 3,
    timeout: float = 60,
    checksum: str | None = None,
) -> Path:
    """Download `url` to `dest` and return `dest`; skip it when `dest` already verifies.

    sha256: the full hex digest, or a prefix of it of at least 8 hex digits (torch.hub's
    convention: `resnet18-f37072fd.pth` carries the first 8). None skips the check.
    checksum: the same as "ALGORITHM:DIGEST", for publishers that print another digest
    (Zenodo lists MD5s): "md5:...", or "sha256:..."; give it or `sha256`, not both.
    retries: attempts after the first one, for transient failures only.
    Raises DownloadError (naming the URL and the HTTP status or the reason) or
    ChecksumError; see the module docstring for what stays on disk.
    """
    dest = Path(dest)
    digest = _checked_digest(sha256, checksum)
    if dest.exists():
        try:
            _verify(url, dest, digest, expected_size)
            return dest
        except DownloadError as error:
            log.warning("%s exists but does not verify (%s); downloading again", dest, error)
            dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, timeout)
            break
        except _Transient as error:
            if attempt == retries:
                reason = f"{error} (gave up after {retries + 1} attempts)"
                raise DownloadError(url, reason) from error
            delay = BACKOFF_S * 2**attempt
            log.warning("%s: %s; retrying in %.0f s", url, error, delay)
            time.sleep(delay)

    try:
        _verify(url, part, digest, expected_size)
    except DownloadError:
        part.unlink()
        raise
    os.replace(part, dest)
    return dest


# Algorithm -> hex digits of its full digest.
_DIGEST_LENGTHS = {"sha256": 64, "md5": 32}


def _checked_digest(sha256: str | None, checksum: str | None) -> tuple[str, str] | None:
    """(algorithm, lower-case hex digest or prefix), or None when nothing is to be checked."""
    if sha256 is not None and checksum is not None:
        raise ValueError("give either sha256 or checksum, not both")
    if checksum is not None:
        algorithm, _, value = checksum.partition(":")
        algorithm = algorithm.strip().lower()
        if algorithm not in _DIGEST_LENGTHS or not value:
            raise ValueError(f"checksum must be 'md5:HEX' or 'sha256:HEX', got {checksum!r}")
    elif sha256 is not None:
        algorithm, value = "sha256", sha256
    else:
        return None
    digest = value.strip().lower()
    longest = _DIGEST_LENGTHS[algorithm]
    # Fewer than 8 hex digits would accept almost any file, so it is refused as a typo.
    if not re.fullmatch(rf"[0-9a-f]{{8,{longest}}}", digest):
        raise ValueError(f"{algorithm} must be 8 to {longest} hex digits, got {value!r}")
    return algorithm, digest


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Fill `part` with the body of `url`, resuming from what `part` already holds."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            content_range = response.headers.get("Content-Range", "")
            if offset and response.status == 206:
                if not content_range.startswith(f"bytes {offset}-"):
                    part.unlink()
                    raise _Transient("server answered a different byte range; restarting")
            else:
                offset = 0  # no Range sent, or the server ignored it: start from scratch
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            received = _stream(response, part, append=offset > 0, total=total, initial=offset)
    except urllib.error.HTTPError as error:
        status = f"HTTP {error.code} {error.reason}"
        if error.code >= 500:
            raise _Transient(status) from error
        part.unlink(missing_ok=True)
        if error.code == 416:
            # Range not satisfiable: the .part is as long as the remote file or longer.
            raise _Transient(f"{status} for the partial file; restarting") from error
        raise DownloadError(url, status) from error
    except _NETWORK_ERRORS as error:
        raise _Transient(f"connection failed: {error}") from error
    if length is not None and received < int(length):
        raise _Transient(f"truncated body: received {offset + received} of {total} bytes")


def _stream(
    response: http.client.HTTPResponse, part: Path, append: bool, total: int | None, initial: int
) -> int:
    """Copy `response` into `part`; returns the number of bytes written by this call."""
    received = 0
    bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=part.name)
    with part.open("ab" if append else "wb") as out, bar:
        while chunk := response.read(CHUNK_BYTES):
            out.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """A file's hex digest, read in chunks (every checksum check of the project uses it;
    a configured digest may be the whole or a prefix of 8+ hex digits)."""
    with Path(path).open("rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


def _verify(
    url: str, path: Path, digest: tuple[str, str] | None, expected_size: int | None
) -> None:
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(url, f"got {size} bytes, expected {expected_size}")
    if digest is not None:
        algorithm, expected = digest
        actual = file_digest(path, algorithm)
        if not actual.startswith(expected):
            raise ChecksumError(url, expected, actual, algorithm)
