"""Cases in every stage, reached through the workflow itself as the right personas."""

import io

from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import calendar_seed, seed
from cases.models import (
    CalendarDay,
    Case,
    Category,
    FilingCondition,
    Source,
    Stage,
    WorkingCalendar,
)
from cases.photos import process_photo
from cases.services import case_report
from cases.workflow import perform
from grids.models import GridAssignment
from grids.services import grids_generate
from org.models import Department, Role
from tests.base import BaseTestCase, PersonasMixin, make_person
from tests.grids.helpers import bbox, make_areas

INSIDE = Point(116.4005, 39.9105, srid=4326)


def jpeg(
    width=64, height=48, color=(200, 80, 40), exif=None, name="photo.jpg"
) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", exif=exif or Image.Exif())
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def photo():
    return process_photo(jpeg())


class CaseWorldMixin(PersonasMixin):
    """Wang patrols the grids of one community; Qian patrols elsewhere; Chen works in
    sanitation, Sun in landscaping."""

    @classmethod
    def make_world(cls):
        cls.make_personas()
        _, _, cls.community = make_areas(bbox(116.400, 39.910, 116.402, 39.912))
        cls.grids = grids_generate(community=cls.community, cell_size=100)
        for grid in cls.grids:
            GridAssignment.objects.create(grid=grid, worker=cls.wang, duty="responsible")
        cls.landscaping = Department.objects.create(
            code="landscaping",
            name="园林绿化局",
            kind=Department.Kind.FUNCTIONAL,
            parent=cls.centre,
        )
        cls.qian = make_person("qian", Role.GRID_WORKER, department=cls.street, full_name="钱多")
        cls.sun = make_person("sun", Role.OFFICER, department=cls.landscaping, full_name="孙立")
        # Transactional tests empty the tables, seeded ones included: seed again.
        seed.load(Category, FilingCondition)
        calendar_seed.load(WorkingCalendar, CalendarDay)
        cls.category = Category.objects.get(full_code="E0102")

    def report(self, **overrides) -> Case:
        arguments = {
            "reporter": self.wang,
            "source": Source.PATROL,
            "point": INSIDE,
            "category": self.category,
            "description": "东华门大街南侧人行道上有一堆生活垃圾",
        }
        arguments.update(overrides)
        return case_report(**arguments)

    def case_in(self, stage: str) -> Case:
        """A case brought to ``stage`` the way people would bring it there."""
        if stage == Stage.VERIFYING:
            return self.report(
                source=Source.HOTLINE,
                reporter=self.li,
                citizen_name="张三",
                citizen_phone="13800000000",
            )
        if stage == Stage.SELF_HANDLED:
            return self.report(self_handled=True)
        case = self.report()
        path = [
            ("file", self.li, {}),
            ("dispatch", self.li, {"data": {"department": self.sanitation.pk}}),
            ("accept", self.chen, {}),
        ]
        for action, person, kwargs in path:
            if case.stage == stage:
                return case
            perform(case, action, person, **kwargs)
        if stage == Stage.ON_HOLD:
            perform(case, "request_hold", self.chen, reason="需要协调产权单位")
            perform(case, "approve_hold", self.li)
        elif stage == Stage.CHECKING:
            perform(case, "report_done", self.chen, photos=[photo()])
        assert case.stage == stage, (case.stage, stage)
        return case


class CaseTestCase(CaseWorldMixin, BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_world()
