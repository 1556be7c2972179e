"""Small real files of each kind, made in memory: what the server must recognise from the bytes."""

import io
import struct

from PIL import Image


def png(width: int = 4, height: int = 3, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int = 8, height: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def mp4() -> bytes:
    """An ISO-BMFF file: an ftyp box (brand isom, compatible mp41) and an empty mdat box."""
    brands = b"isom" + struct.pack(">I", 0x200) + b"isommp41"
    ftyp = struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands
    mdat = struct.pack(">I", 8 + 16) + b"mdat" + bytes(16)
    return ftyp + mdat


def ogg() -> bytes:
    """The first page of an Ogg Opus stream (capture pattern, version, header type, the OpusHead
    packet); enough for a reader of magic numbers."""
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    page = b"OggS" + bytes([0, 2]) + bytes(8) + struct.pack("<IIi", 1, 0, 0) + bytes([1, len(head)])
    return page + head


def webm() -> bytes:
    """The EBML header of a WebM file, as a browser's MediaRecorder starts one (Opus in WebM)."""
    fields = b"\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
    fields += b"\x42\x87\x81\x04\x42\x85\x81\x02"
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(fields)]) + fields


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
TEXT = "plain words, ünïcode\n".encode()
