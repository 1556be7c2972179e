"""Pictures made for the tests, with the properties under test: EXIF orientation and location,
alpha, animation, too many pixels, broken bytes."""

from io import BytesIO

from PIL import ExifTags, Image

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


def animated_gif(frames: int = 3, size: tuple[int, int] = (40, 30)) -> bytes:
    images = [Image.new("P", size, index) for index in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)


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
