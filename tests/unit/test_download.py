import hashlib
import socket

import pytest
from httpserver import RequestLog, serve

from avrepro.data import download
from avrepro.data.download import ChecksumError, DownloadError, download_file

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)


def part_of(dest):
    return dest.with_name(dest.name + ".part")


def test_downloads_and_verifies(tmp_path):
    dest = tmp_path / "sub" / "data.bin"
    with serve({"/data.bin": PAYLOAD}) as url:
        assert download_file(f"{url}/data.bin", dest, sha256=SHA256, expected_size=10240) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not part_of(dest).exists()


def test_accepts_a_torch_hub_hash_prefix(tmp_path):
    dest = tmp_path / f"weights-{SHA256[:8]}.pth"
    with serve({"/w.pth": PAYLOAD}) as url:
        download_file(f"{url}/w.pth", dest, sha256=SHA256[:8].upper())
    assert dest.read_bytes() == PAYLOAD


def test_skips_a_dest_that_verifies_and_replaces_one_that_does_not(tmp_path):
    dest = tmp_path / "data.bin"
    log = RequestLog()
    with serve({"/data.bin": PAYLOAD}, log=log) as url:
        download_file(f"{url}/data.bin", dest, sha256=SHA256)
        download_file(f"{url}/data.bin", dest, sha256=SHA256)
        assert log.count("/data.bin") == 1
        dest.write_bytes(b"stale")
        download_file(f"{url}/data.bin", dest, sha256=SHA256)
        assert log.count("/data.bin") == 2
    assert dest.read_bytes() == PAYLOAD


def test_404_fails_at_once_and_leaves_nothing(tmp_path):
    dest = tmp_path / "data.bin"
    log = RequestLog()
    with serve({}, log=log) as url, pytest.raises(DownloadError) as caught:
        download_file(f"{url}/missing.bin", dest)
    assert f"{url}/missing.bin" in str(caught.value)
    assert "HTTP 404" in str(caught.value)
    assert log.count("/missing.bin") == 1
    assert not dest.exists() and not part_of(dest).exists()


def test_500_is_retried_then_fails(tmp_path):
    dest = tmp_path / "data.bin"
    log = RequestLog()
    with serve({"/data.bin": PAYLOAD}, fail={"/data.bin": 500}, log=log) as url:
        with pytest.raises(DownloadError, match="HTTP 500") as caught:
            download_file(f"{url}/data.bin", dest, retries=2)
    assert caught.value.url == f"{url}/data.bin"
    assert log.count("/data.bin") == 3  # the first attempt and two retries
    assert not dest.exists()


def test_a_truncated_body_is_an_error_and_keeps_the_part_for_resuming(tmp_path):
    dest = tmp_path / "data.bin"
    with serve({"/data.bin": PAYLOAD}, truncate={"/data.bin": 100}) as url:
        with pytest.raises(DownloadError, match="truncated"):
            download_file(f"{url}/data.bin", dest, retries=0)
    assert not dest.exists()
    assert part_of(dest).read_bytes() == PAYLOAD[:100]


def test_a_retry_after_truncation_resumes_where_it_stopped(tmp_path):
    dest = tmp_path / "data.bin"
    log = RequestLog()
    # Each answer is cut after 6,000 bytes: the first gives 6,000, the resumed one the rest.
    with serve({"/data.bin": PAYLOAD}, truncate={"/data.bin": 6000}, log=log) as url:
        download_file(f"{url}/data.bin", dest, sha256=SHA256, retries=1)
    assert log.ranges("/data.bin") == [None, "bytes=6000-"]
    assert dest.read_bytes() == PAYLOAD


def test_resumes_an_existing_part_with_a_range_request(tmp_path):
    dest = tmp_path / "data.bin"
    part_of(dest).write_bytes(PAYLOAD[:4000])
    log = RequestLog()
    with serve({"/data.bin": PAYLOAD}, log=log) as url:
        download_file(f"{url}/data.bin", dest, sha256=SHA256)
    assert log.ranges("/data.bin") == ["bytes=4000-"]
    assert dest.read_bytes() == PAYLOAD
    assert not part_of(dest).exists()


def test_restarts_when_the_server_ignores_range(tmp_path):
    dest = tmp_path / "data.bin"
    part_of(dest).write_bytes(b"x" * 4000)
    with serve({"/data.bin": PAYLOAD}, ranges=False) as url:
        download_file(f"{url}/data.bin", dest, sha256=SHA256)
    assert dest.read_bytes() == PAYLOAD


def test_restarts_when_the_part_is_longer_than_the_file(tmp_path):
    dest = tmp_path / "data.bin"
    part_of(dest).write_bytes(b"x" * (len(PAYLOAD) + 10))
    log = RequestLog()
    with serve({"/data.bin": PAYLOAD}, log=log) as url:
        download_file(f"{url}/data.bin", dest, sha256=SHA256, retries=1)
    assert log.ranges("/data.bin") == [f"bytes={len(PAYLOAD) + 10}-", None]
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_neither_dest_nor_part(tmp_path):
    dest = tmp_path / "data.bin"
    wrong = "0" * 64
    with serve({"/data.bin": PAYLOAD}) as url, pytest.raises(ChecksumError) as caught:
        download_file(f"{url}/data.bin", dest, sha256=wrong)
    assert (caught.value.expected, caught.value.actual) == (wrong, SHA256)
    assert url in str(caught.value)
    assert not dest.exists() and not part_of(dest).exists()


def test_size_mismatch_is_an_error(tmp_path):
    dest = tmp_path / "data.bin"
    with serve({"/data.bin": PAYLOAD}) as url, pytest.raises(DownloadError, match="10240 bytes"):
        download_file(f"{url}/data.bin", dest, expected_size=10241)
    assert not dest.exists() and not part_of(dest).exists()


def test_connection_refused_is_retried_then_fails(tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="connection failed"):
        download_file(f"http://127.0.0.1:{port}/data.bin", tmp_path / "data.bin", retries=1)
    assert not (tmp_path / "data.bin").exists()


@pytest.mark.parametrize("bad", ["", "abc", "z" * 64, "0" * 65])
def test_rejects_a_malformed_checksum(tmp_path, bad):
    with pytest.raises(ValueError, match="sha256"):
        download_file("http://127.0.0.1:1/never-asked", tmp_path / "x", sha256=bad)


MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.mark.parametrize("checksum", [f"md5:{MD5}", f"MD5:{MD5.upper()}", f"sha256:{SHA256}"])
def test_checksum_takes_an_algorithm(tmp_path, checksum):
    dest = tmp_path / "data.bin"
    with serve({"/data.bin": PAYLOAD}) as url:
        download_file(f"{url}/data.bin", dest, checksum=checksum)
    assert dest.read_bytes() == PAYLOAD


def test_md5_mismatch_names_the_algorithm_and_leaves_nothing(tmp_path):
    dest = tmp_path / "data.bin"
    wrong = "0" * 32
    with serve({"/data.bin": PAYLOAD}) as url, pytest.raises(ChecksumError) as caught:
        download_file(f"{url}/data.bin", dest, checksum=f"md5:{wrong}")
    assert (caught.value.algorithm, caught.value.expected, caught.value.actual) == (
        "md5",
        wrong,
        MD5,
    )
    assert f"md5 is {MD5}" in str(caught.value)
    assert not dest.exists() and not part_of(dest).exists()


def test_an_existing_dest_is_checked_with_the_given_algorithm(tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    log = RequestLog()
    with serve({"/data.bin": PAYLOAD}, log=log) as url:
        download_file(f"{url}/data.bin", dest, checksum=f"md5:{MD5}")
        assert log.count("/data.bin") == 0
        with pytest.raises(ChecksumError, match="md5"):
            download_file(f"{url}/data.bin", dest, checksum=f"md5:{'f' * 32}")
    assert not dest.exists()  # neither the stale file nor the new one is kept


@pytest.mark.parametrize(
    ("sha256", "checksum", "message"),
    [
        (None, "crc32:0123abcd", "'md5:HEX' or 'sha256:HEX'"),
        (None, f"md5{MD5}", "'md5:HEX' or 'sha256:HEX'"),
        (None, f"md5:{MD5}00", "md5 must be 8 to 32 hex digits"),
        (SHA256, f"md5:{MD5}", "not both"),
    ],
)
def test_rejects_a_malformed_or_doubled_checksum(tmp_path, sha256, checksum, message):
    with pytest.raises(ValueError, match=message):
        download_file("http://127.0.0.1:1/x", tmp_path / "x", sha256=sha256, checksum=checksum)
