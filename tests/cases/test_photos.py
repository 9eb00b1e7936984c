import io

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import SimpleTestCase, override_settings
from PIL import Image

from cases.photos import process_photo
from tests.cases.base import jpeg


def exif_with_gps(lon, lat, orientation=None, when="2026:11:23 09:15:00"):
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (39.0, 54.0, 37.8), 3: "E", 4: (116.0, 24.0, 1.8)})
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = when
    return exif


class PhotoTestCase(SimpleTestCase):
    def test_it_reads_the_gps_position_then_strips_all_metadata(self):
        upload = process_photo(jpeg(exif=exif_with_gps(116.4005, 39.9105)))
        self.assertAlmostEqual(upload.exif_point.x, 116 + 24 / 60 + 1.8 / 3600, places=6)
        self.assertAlmostEqual(upload.exif_point.y, 39 + 54 / 60 + 37.8 / 3600, places=6)
        self.assertEqual(upload.taken_at.isoformat(), "2026-11-23T09:15:00+08:00")
        cleaned = Image.open(io.BytesIO(upload.content))
        self.assertEqual(cleaned.format, "JPEG")
        self.assertEqual(len(cleaned.getexif()), 0)
        self.assertNotIn(b"PhoneMaker", upload.content)

    def test_it_turns_the_photo_upright(self):
        # Orientation 6: the camera was turned; the stored pixels are 64 x 48.
        exif = Image.Exif()
        exif[0x0112] = 6
        upload = process_photo(jpeg(64, 48, exif=exif))
        self.assertEqual((upload.width, upload.height), (48, 64))

    def test_it_refuses_what_is_not_a_photo(self):
        with self.assertRaisesMessage(ValidationError, "“report.pdf” is not a photo"):
            process_photo(SimpleUploadedFile("report.pdf", b"%PDF-1.4 not an image"))

    def test_it_refuses_a_gif(self):
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, "GIF")
        with self.assertRaisesMessage(ValidationError, "is a GIF image"):
            process_photo(SimpleUploadedFile("a.gif", out.getvalue()))

    @override_settings(PHOTO_MAX_BYTES=1000)
    def test_it_refuses_a_photo_too_large(self):
        with self.assertRaisesMessage(ValidationError, "photos may be at most"):
            process_photo(jpeg(400, 300))

    def test_a_photo_without_gps_has_no_position(self):
        self.assertIsNone(process_photo(jpeg()).exif_point)
        self.assertIsInstance(process_photo(jpeg(exif=exif_with_gps(0, 0))).exif_point, Point)
