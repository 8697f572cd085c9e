"""Tell what an upload is from its first bytes (never from its name or the client's content type)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    kind: str  # "video" | "image"
    content_type: str
    extension: str


def sniff(head: bytes) -> FileType | None:
    """The file type by magic number, or None when it is not a supported video or image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image", "image/png", ".png")
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("image", "image/jpeg", ".jpg")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FileType("image", "image/tiff", ".tif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("image", "image/webp", ".webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileType("video", "video/x-msvideo", ".avi")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith((b"qt", b"mqt")):
            return FileType("video", "video/quicktime", ".mov")
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
            return None  # still images in an ISO container
        return FileType("video", "video/mp4", ".mp4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return FileType("video", "video/quicktime", ".mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        is_webm = b"webm" in head[:64]
        return FileType("video", "video/webm" if is_webm else "video/x-matroska", ".webm" if is_webm else ".mkv")
    if head.startswith(b"FLV\x01"):
        return FileType("video", "video/x-flv", ".flv")
    if head.startswith(b"OggS"):
        return FileType("video", "video/ogg", ".ogv")
    if head.startswith(b"\x00\x00\x01\xba"):
        return FileType("video", "video/mpeg", ".mpg")
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return FileType("video", "video/mp2t", ".ts")
    return None


SUPPORTED = "video (MP4, MOV, WebM, MKV, AVI, MPEG, MPEG-TS, FLV, Ogg) or image (PNG, JPEG, TIFF, WebP)"
DEFAULT_JOB_TYPE = {"video": "cut_analysis", "image": "restoration"}
