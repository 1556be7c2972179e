"""Pictures made for the tests, with the properties under test: EXIF orientation and location,
alpha, animation, too many pixels, broken bytes."""

from io import BytesIO

from PIL import ExifTags, Image, PngImagePlugin

ORIENTATION = ExifTags.Base.Orientation
GPS_IFD = ExifTags.IFD.GPSInfo
# Where the picture was taken: what must never reach anyone else.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
}
RED, BLUE = (255, 0, 0), (0, 0, 255)


def halves(size: tuple[int, int], left: tuple = RED, right: tuple = BLUE) -> Image.Image:
    """A picture whose left half is one colour and right half another, so that turning and
    cropping it shows where each half went."""
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def jpeg(image: Image.Image, *, orientation: int | None = None, gps: bool = False) -> bytes:
    """JPEG bytes, with an EXIF orientation, a camera model and (if asked) a location."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Model 1"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = GPS
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_with_alpha(size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGBA", size, (0, 128, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))  # left half fully transparent
    return encoded(image, "PNG")


FRAME_COLOURS = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
FRAME_DURATIONS = [80, 120, 160]


def frames(size: tuple[int, int] = (30, 20)) -> list[Image.Image]:
    """Three frames, each of its own colour."""
    return [Image.new("RGB", size, colour) for colour in FRAME_COLOURS]


def animated_gif() -> bytes:
    first, *rest = frames()
    return encoded(first, "GIF", save_all=True, append_images=rest, duration=FRAME_DURATIONS, loop=0)


def bomb_png(side: int) -> bytes:
    """A small file that decodes to side x side pixels (a 1-bit PNG compresses to almost nothing)."""
    return encoded(Image.new("1", (side, side)), "PNG")


def corrupt_jpeg() -> bytes:
    """A JPEG's start (so it is recognised as one) followed by noise."""
    good = jpeg(halves((64, 64)))
    return good[:200] + bytes((i * 37) % 256 for i in range(2000))


def truncated(data: bytes) -> bytes:
    """The first half of a file, as a dropped connection leaves it."""
    return data[: len(data) // 2]


# ---- metadata that must not reach anyone else --------------------------------------------------

# Words hidden in every kind of metadata below: none may be found in what others download.
SECRETS = (b"SecretCam", b"secret place", b"xmp-secret")
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>xmp-secret</rdf:Description></x:xmpmeta>'


def secret_exif(orientation: int | None = None) -> Image.Exif:
    """A camera's EXIF: make, model, where the picture was taken, and (if given) the orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Model] = "Model 1"
    exif[GPS_IFD] = GPS
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif


def jpeg_with_secrets(image: Image.Image, orientation: int | None = None) -> bytes:
    return encoded(image, "JPEG", exif=secret_exif(orientation), comment=b"secret place", xmp=XMP, quality=95)


def png_with_secrets() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret place")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return encoded(Image.new("RGBA", (30, 20), (0, 90, 0, 128)), "PNG", exif=secret_exif(), pnginfo=text)


def webp_with_secrets() -> bytes:
    return encoded(Image.new("RGB", (30, 20), (0, 0, 90)), "WEBP", exif=secret_exif(), xmp=XMP)


def mpo_with_secrets() -> bytes:
    """What many phones write: a JPEG photo and a second picture after it, both with EXIF."""
    photo, second = Image.new("RGB", (30, 20), (90, 0, 0)), Image.new("RGB", (30, 20))
    return encoded(photo, "MPO", save_all=True, append_images=[second], exif=secret_exif())


def gif_with_secrets(animated: bool = False) -> bytes:
    """A GIF (three frames if animated) with a comment, and XMP as an application extension."""
    first, *rest = frames()
    extra = (
        {"save_all": True, "append_images": rest, "duration": FRAME_DURATIONS, "loop": 0} if animated else {}
    )
    data = encoded(first, "GIF", comment=b"secret place", **extra)
    xmp = b"!\xff\x0bXMP DataXMP" + bytes([len(XMP)]) + XMP + b"\x00"
    return data[:-1] + xmp + data[-1:]  # before the trailer


def animated_webp_with_secrets() -> bytes:
    first, *rest = frames()
    options = {"exif": secret_exif(), "xmp": XMP}
    return encoded(first, "WEBP", save_all=True, append_images=rest, duration=FRAME_DURATIONS, **options)


def animated_png_with_secrets() -> bytes:
    first, *rest = frames()
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "secret place")
    options = {"exif": secret_exif(), "pnginfo": text}
    return encoded(first, "PNG", save_all=True, append_images=rest, duration=FRAME_DURATIONS, **options)
