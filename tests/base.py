"""A test base with one named persona per role (and one with none)."""

import os
import subprocess
import sys

from django.conf import settings
from django.db import connection
from django.test import TestCase

from org.models import Department, Membership, Role, RoleGrant, User

PASSWORD = "correct horse battery staple"


def make_person(username: str, *roles: str, department: Department | None = None, **extra) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    for role in roles:
        RoleGrant.objects.create(user=user, role=role)
    if department is not None:
        Membership.objects.create(user=user, department=department)
    return user


class PersonasMixin:
    """Wang patrols grids, Li dispatches, Zhao leads the shift, Chen works in sanitation,
    Zhou supervises, Ada administers, and Nobody holds no role."""

    @classmethod
    def make_personas(cls):
        cls.centre = Department.objects.create(
            code="centre", name="指挥中心", kind=Department.Kind.COMMAND_CENTRE
        )
        cls.street = Department.objects.create(
            code="street-a",
            name="东华门街道办事处",
            kind=Department.Kind.STREET_OFFICE,
            parent=cls.centre,
        )
        cls.sanitation = Department.objects.create(
            code="sanitation", name="环卫中心", kind=Department.Kind.FUNCTIONAL, parent=cls.centre
        )
        cls.wang = make_person("wang", Role.GRID_WORKER, department=cls.street, full_name="王芳")
        cls.li = make_person("li", Role.DISPATCHER, department=cls.centre, full_name="李军")
        cls.zhao = make_person("zhao", Role.SHIFT_LEADER, department=cls.centre, full_name="赵敏")
        cls.chen = make_person("chen", Role.OFFICER, department=cls.sanitation, full_name="陈杰")
        cls.zhou = make_person("zhou", Role.SUPERVISOR, department=cls.centre, full_name="周强")
        cls.ada = make_person("ada", Role.ADMINISTRATOR, department=cls.centre, full_name="管理员")
        cls.nobody = make_person("nobody", full_name="无角色")
        cls.personas = {
            Role.GRID_WORKER: cls.wang,
            Role.DISPATCHER: cls.li,
            Role.SHIFT_LEADER: cls.zhao,
            Role.OFFICER: cls.chen,
            Role.SUPERVISOR: cls.zhou,
            Role.ADMINISTRATOR: cls.ada,
        }


class BaseTestCase(PersonasMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.make_personas()


def run_apart(script: str) -> subprocess.CompletedProcess:
    """Run ``script`` with ``manage.py shell``, in a process of its own on a connection in
    autocommit to the test database (a test runs inside a transaction, which settings
    made for one transaction would outlive)."""
    db = connection.settings_dict
    port = f":{db['PORT']}" if db["PORT"] else ""
    env = {**os.environ, "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}{port}/{db['NAME']}"}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
