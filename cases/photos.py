"""Photos from phones: checked, turned upright, stripped of metadata, position kept.

A phone's JPEG carries the camera's GPS position and often the owner's device details; the
position is read first (it is offered as the case position) and everything else is dropped
by re-encoding the pixels alone.
"""

import datetime
import io

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .workflow import PhotoUpload

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
# A photo is at most a few tens of megapixels; refuse decompression bombs early.
Image.MAX_IMAGE_PIXELS = 80_000_000

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003


def _degrees(value, ref) -> float | None:
    try:
        degrees, minutes, seconds = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    return -result if ref in ("S", "W") else result


def exif_position(image: Image.Image) -> Point | None:
    gps = image.getexif().get_ifd(GPS_IFD)
    if not gps:
        return None
    lat = _degrees(gps.get(2), gps.get(1))
    lon = _degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    return Point(lon, lat, srid=4326)


def exif_taken_at(image: Image.Image) -> datetime.datetime | None:
    raw = image.getexif().get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL)
    try:
        # Made aware just below: cameras record local time without a zone.
        naive = datetime.datetime.strptime(str(raw), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return timezone.make_aware(naive)


def process_photo(upload) -> PhotoUpload:
    """Turn an uploaded file into a clean JPEG, or raise ValidationError saying why not."""
    limit_mb = settings.PHOTO_MAX_BYTES / (1024 * 1024)
    if upload.size > settings.PHOTO_MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is %(size).1f MB; photos may be at most %(limit).0f MB.")
            % {"name": upload.name, "size": upload.size / (1024 * 1024), "limit": limit_mb},
            code="too_large",
        )
    try:
        upload.seek(0)
        image = Image.open(upload)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise ValidationError(
            _("“%(name)s” is not a photo: use a JPEG, PNG or WebP image.") % {"name": upload.name},
            code="not_an_image",
        ) from None
    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError(
            _("“%(name)s” is a %(format)s image: use a JPEG, PNG or WebP image.")
            % {"name": upload.name, "format": image.format},
            code="format",
        )
    position = exif_position(image)
    taken_at = exif_taken_at(image)
    upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((settings.PHOTO_MAX_SIDE, settings.PHOTO_MAX_SIDE))
    out = io.BytesIO()
    # Only the pixels are written: no EXIF, no GPS, no maker notes.
    upright.save(out, "JPEG", quality=85, optimize=True)
    return PhotoUpload(
        content=out.getvalue(),
        width=upright.width,
        height=upright.height,
        exif_point=position,
        taken_at=taken_at,
    )
