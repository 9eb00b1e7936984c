"""Demo organisation for Beijing's Dongcheng district, where grid management began.

Loaded by ``manage.py load_demo``; running it again changes nothing that is already there.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .models import Department, Membership, Role, RoleGrant, User

DATA_DIR = Path(settings.BASE_DIR) / "governance" / "demo_data"

COMMAND_CENTRE = ("dc-command", "东城区城市管理监督指挥中心")
FUNCTIONAL = [
    ("dc-sanitation", "东城区环境卫生服务中心"),
    ("dc-municipal", "东城区市政市容管理委员会"),
    ("dc-landscaping", "东城区园林绿化局"),
    ("dc-traffic", "东城区交通委员会"),
    ("dc-enforcement", "东城区城市管理综合行政执法局"),
    ("dc-water", "东城区水务局"),
]

# Heads are real people to escalate to; they sign in only once an administrator sets a password.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭"
GIVEN = ["建国", "丽华", "志强", "秀英", "海涛", "晓燕", "国庆", "春梅", "永刚", "桂兰", "明", "静"]


@dataclass(frozen=True)
class DemoPerson:
    username: str
    full_name: str
    roles: tuple[Role, ...]
    department: str

    @property
    def password(self) -> str:
        return f"demo-{self.username}"


DEMO_PEOPLE = [
    DemoPerson("worker", "王芳", (Role.GRID_WORKER,), "street-110101001"),
    DemoPerson("dispatcher", "李军", (Role.DISPATCHER,), "dc-command"),
    DemoPerson("leader", "赵敏", (Role.SHIFT_LEADER, Role.DISPATCHER), "dc-command"),
    DemoPerson("officer", "陈杰", (Role.OFFICER,), "dc-sanitation"),
    DemoPerson("supervisor", "周强", (Role.SUPERVISOR,), "dc-command"),
    DemoPerson("admin", "系统管理员", (Role.ADMINISTRATOR,), "dc-command"),
]


def read_streets() -> list[tuple[str, str]]:
    with open(DATA_DIR / "dongcheng-streets.csv", encoding="utf-8") as f:
        return [(row["code"], row["name"]) for row in csv.DictReader(f)]


def ensure_department(code: str, name: str, kind: str, parent: Department | None) -> Department:
    department, _ = Department.objects.get_or_create(
        code=code, defaults={"name": name, "kind": kind, "parent": parent}
    )
    return department


def ensure_person(person: DemoPerson) -> tuple[User, bool]:
    user, created = User.objects.get_or_create(
        username=person.username, defaults={"full_name": person.full_name}
    )
    if created:
        user.set_password(person.password)
        user.save(update_fields=["password"])
    for role in person.roles:
        RoleGrant.objects.get_or_create(user=user, role=role)
    Membership.objects.get_or_create(
        user=user, department=Department.objects.get(code=person.department)
    )
    return user, created


def logins() -> list[tuple[DemoPerson, bool]]:
    """The demo people who have an account, and whether the demo password still works."""
    users = {
        u.username: u for u in User.objects.filter(username__in=[p.username for p in DEMO_PEOPLE])
    }
    return [
        (person, users[person.username].check_password(person.password))
        for person in DEMO_PEOPLE
        if person.username in users
    ]


def login_lines(people: list[tuple[DemoPerson, bool]]) -> list[str]:
    """One line per demo person: user name, password, name and roles."""
    lines = []
    for person, password_works in people:
        roles = ", ".join(str(role.label) for role in person.roles)
        password = person.password if password_works else "(changed by an administrator)"
        lines.append(f"  {person.username:<12} {password:<20} {person.full_name}: {roles}")
    return lines


def ensure_head(department: Department, index: int) -> None:
    if department.head_id is not None:
        return
    username = f"head-{department.code}"
    name = SURNAMES[index % len(SURNAMES)] + GIVEN[index % len(GIVEN)]
    head, created = User.objects.get_or_create(username=username, defaults={"full_name": name})
    if created:
        head.set_unusable_password()
        head.save(update_fields=["password"])
    RoleGrant.objects.get_or_create(user=head, role=Role.OFFICER)
    Membership.objects.get_or_create(user=head, department=department, defaults={"title": "主任"})
    department.head = head
    department.save(update_fields=["head"])


@transaction.atomic
def load() -> list[tuple[DemoPerson, bool]]:
    """Create the demo organisation; return each demo person and whether the demo
    password still works (an administrator may have changed it)."""
    centre = ensure_department(*COMMAND_CENTRE, Department.Kind.COMMAND_CENTRE, None)
    for code, name in FUNCTIONAL:
        ensure_department(code, name, Department.Kind.FUNCTIONAL, centre)
    for code, name in read_streets():
        ensure_department(f"street-{code}", f"{name}办事处", Department.Kind.STREET_OFFICE, centre)

    people = []
    for person in DEMO_PEOPLE:
        user, _ = ensure_person(person)
        people.append((person, user.check_password(person.password)))
    centre.head = centre.head or User.objects.get(username="supervisor")
    centre.save(update_fields=["head"])
    for index, department in enumerate(Department.objects.order_by("code")):
        ensure_head(department, index)
    return people
