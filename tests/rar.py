"""Write small RAR archives for tests, without the non-free `rar` tool.

    (tmp_path / "UCF101.rar").write_bytes(rar_bytes({"UCF-101/A/v_A_g01_c01.avi": b"avi"}))

No free tool creates RAR (unar, bsdtar and 7-Zip only read it), so this writes the RAR
1.5-4.x format (the one UCF101.rar uses) by hand, with every member stored uncompressed:
a marker block, an archive header, one file header plus data per member, an end block.
Each block header carries the low 16 bits of the CRC-32 of its bytes after the CRC
field; each file header the CRC-32 of the member's data. Names are stored as given (with
RAR's "\\" separators), so a test can also build a path-escaping archive.
"""

import struct
import zlib

MARKER = b"Rar!\x1a\x07\x00"
ARCHIVE_HEADER, FILE_HEADER, END_OF_ARCHIVE = 0x73, 0x74, 0x7B
LONG_BLOCK = 0x8000  # the header is followed by PACK_SIZE bytes of data
WINDOWS_HOST = 2  # as archives made with WinRAR: DOS attributes
STORED = 0x30
VERSION_20 = 20  # the lowest RAR version able to extract it
# 2013-01-01 00:00:00 as an MS-DOS date (high 16 bits) and time (low 16 bits).
DOS_TIME = ((2013 - 1980) << 9 | 1 << 5 | 1) << 16
ARCHIVE_ATTRIBUTE = 0x20  # the DOS attribute of an ordinary file


def _block(head_type: int, flags: int, body: bytes) -> bytes:
    header = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def _file_block(name: str, data: bytes) -> bytes:
    # RAR stores "\\" between folders; unar takes a "/" as part of a file name.
    encoded = name.replace("/", "\\").encode()
    body = struct.pack(
        "<IIBIIBBHI",
        len(data),  # packed size
        len(data),  # unpacked size
        WINDOWS_HOST,
        zlib.crc32(data),
        DOS_TIME,
        VERSION_20,
        STORED,
        len(encoded),
        ARCHIVE_ATTRIBUTE,
    )
    return _block(FILE_HEADER, LONG_BLOCK, body + encoded) + data


def rar_bytes(members: dict[str, bytes]) -> bytes:
    """A RAR archive holding `members` (name -> content), in the given order."""
    blocks = [MARKER, _block(ARCHIVE_HEADER, 0, bytes(6))]  # 6 reserved bytes
    blocks += [_file_block(name, data) for name, data in members.items()]
    blocks.append(_block(END_OF_ARCHIVE, 0x4000, b""))  # the flags RAR itself writes there
    return b"".join(blocks)
