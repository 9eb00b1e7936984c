"""The plan (how many cases, reported when, ending in which stage) and the life of each case."""

import bisect
import datetime
import math
import random
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, override

from org.demo import GIVEN, SURNAMES

from ..models import WARN_SHARE
from .mix import (
    ACCEPT_MINUTES,
    CALL_HOURS,
    CHECK_MINUTES,
    DAY_WEIGHT,
    HANDLING_SHARE,
    HANDLING_SIGMA,
    NORMAL,
    NORMAL_SIZE,
    OPEN_STAGES,
    PATROL_HOURS,
    REASONS,
    SELF_STAGES,
    SOURCE_SHARE,
    SOURCES,
    SPOT_SHARE,
    SPOT_SIGMA_M,
    SPOT_WORDS,
    SPOTS_PER_GRID,
    STAGE_SHARE,
    STAGES,
    STUCK_DAYS,
    VERIFIED_SOURCES,
    LimitUnit,
    Source,
    Stage,
)
from .world import RuleInfo, World, cumulative, iso


class Clock:
    """Report times over the period: days weighted by kind, hours by source."""

    def __init__(self, first: datetime.date, now: int, zone, holidays: set[datetime.date]):
        self.now = now
        self.midnights: list[int] = []
        weights = []
        day = first
        last = datetime.datetime.fromtimestamp(now, zone).date()
        while day <= last:
            self.midnights.append(
                int(datetime.datetime.combine(day, datetime.time(), zone).timestamp())
            )
            if day in holidays:
                kind = "holiday"
            elif day.weekday() == 5:
                kind = "saturday"
            elif day.weekday() == 6:
                kind = "sunday"
            else:
                kind = "weekday"
            weights.append(DAY_WEIGHT[kind])
            day += datetime.timedelta(days=1)
        self.days = cumulative(weights)
        self.hours = {
            "patrol": cumulative(PATROL_HOURS),
            "call": cumulative(CALL_HOURS),
        }

    def sample(self, rng: random.Random, profile: str, latest: int | None = None) -> int:
        """A report time: a day by its weight, an hour by the profile, no later than
        ``latest`` (default: now)."""
        hours = self.hours[profile]
        latest = min(self.now - 60, latest or self.now)
        latest = max(latest, self.midnights[0] + 86400)
        while True:
            day = bisect.bisect(self.days, rng.random() * self.days[-1])
            hour = bisect.bisect(hours, rng.random() * hours[-1])
            moment = self.midnights[min(day, len(self.midnights) - 1)] + hour * 3600
            moment += rng.randrange(3600)
            if moment <= latest:
                return moment


def stage_counts(total: int) -> dict[str, int]:
    """Cases per stage their lives head for: the shares, by largest remainders, and at least
    one of each from 100 cases on."""
    exact = {stage: total * share / 100 for stage, share in STAGE_SHARE.items()}
    counts = {stage: int(value) for stage, value in exact.items()}
    if total >= 100:
        for stage in counts:
            counts[stage] = max(1, counts[stage])
    left = total - sum(counts.values())
    for stage in sorted(exact, key=lambda s: exact[s] - int(exact[s]), reverse=True):
        if left <= 0:
            break
        counts[stage] += 1
        left -= 1
    while left < 0:  # the minimum of one pushed past the total: take from the largest
        largest = max(counts, key=counts.get)
        counts[largest] -= 1
        left += 1
    return counts


def source_for(rng: random.Random, stage: str) -> str:
    if stage in SELF_STAGES:
        return Source.PATROL
    if stage == Stage.VERIFYING:
        return Source.PUBLIC if rng.random() < 0.3 else Source.HOTLINE
    roll = rng.random() * 100
    for source in SOURCES:
        roll -= SOURCE_SHARE[source]
        if roll < 0:
            return source
    return Source.PATROL


def make_plan(rng: random.Random, total: int, clock: Clock) -> list[int]:
    """One integer per case, in report order: (moment << 8) | (stage << 3) | source."""
    stages = []
    for stage, count in stage_counts(total).items():
        stages.extend([STAGES.index(stage)] * count)
    rng.shuffle(stages)
    plan, seen = [], set()
    stuck = clock.now - STUCK_DAYS * 86400
    for index in stages:
        stage = STAGES[index]
        source = source_for(rng, stage)
        profile = "call" if source in VERIFIED_SOURCES else "patrol"
        # The backlog has been stuck for weeks; and the first case headed for each stage is
        # old enough to have got there, so that a small run has every stage.
        latest = stuck if stage in OPEN_STAGES or index not in seen else None
        seen.add(index)
        moment = clock.sample(rng, profile, latest)
        plan.append((moment << 8) | (index << 3) | SOURCES.index(source))
    plan.sort()
    return plan


# ---------------------------------------------------------------------------- one case


class StopLife(Exception):
    """The next step of a case's life would come after now: it stops where it is."""


class Record:
    """One case being made: its row, its events, reporters and requests."""

    __slots__ = (
        "id", "number", "source", "reporter", "citizen_name", "citizen_phone", "x", "y",
        "address", "description", "urgency", "stage", "deadline", "warn", "supervision",
        "rework", "returns", "reported", "filed", "closed", "version", "assignee",
        "department", "field_worker", "grid", "merged_into", "category", "condition",
        "routing_rule", "events", "reporters", "requests",
    )  # fmt: skip


class Simulator:
    """Lives the cases of a run. ``counters`` holds the last case number issued per
    (category prefix, day), as CaseNumberCounter does; the run loads and saves it."""

    def __init__(self, world: World, rng: random.Random, now: int, ids: Callable[[str, int], list]):
        self.w = world
        self.rng = rng
        # Random.randrange, gauss and choices cost several times a bare random(): the hot
        # paths use random() itself and a table of normal quantiles.
        self.random = rng.random
        self.now = now
        self.take_ids = ids
        self.request_ids: list[int] = []  # taken from the sequence, last first
        self.reserved = None
        self.counters: dict[tuple[str, datetime.date], int] = {}
        self.zone = timezone.get_current_timezone()
        self._days: dict[int, tuple[datetime.date, int]] = {}
        self.centre = world.dispatchers + world.leaders
        with override(settings.LANGUAGE_CODE):  # the router's task runs in the site's language
            self.no_rule = gettext("No routing rule matches: the case waits for a dispatcher.")
        self.latest = now - 30  # no event after this
        self.routes: dict[tuple, object] = {}  # (category, grid, urgency) -> rule or None
        self.shaped = any(rule.shape is not None for rule in world.rules)
        # The rules that can match a category at all, in the router's order: a few of the
        # table's hundreds, so that a (category, grid, urgency) not seen yet is quick.
        self.rules_for = {
            category.id: [
                rule for rule in world.rules if category.full_code.startswith(rule.category_code)
            ]
            for category in world.categories
        }
        # exp(sigma * z) for each normal quantile z, per sigma: a lognormal draw is then one
        # random() and an index (the same values as computing it each time).
        self.spreads: dict[float, list[float]] = {}
        self.handling_spread = [math.exp(HANDLING_SIGMA * z) for z in NORMAL]

    # ------------------------------------------------------------------ helpers

    def local_day(self, moment: int) -> tuple[datetime.date, int]:
        """The local date of ``moment`` and its midnight, cached by the hour."""
        hour = moment // 3600
        found = self._days.get(hour)
        if found is None:
            day = datetime.datetime.fromtimestamp(moment, self.zone).date()
            midnight = int(datetime.datetime.combine(day, datetime.time(), self.zone).timestamp())
            found = self._days[hour] = (day, midnight)
        return found

    def lognormal(self, median: float, sigma: float) -> int:
        spread = self.spreads.get(sigma)
        if spread is None:
            spread = self.spreads[sigma] = [math.exp(sigma * z) for z in NORMAL]
        return max(1, int(median * spread[int(self.random() * NORMAL_SIZE)]))

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def pick(self, items: list):
        return items[int(self.random() * len(items))] if items else None

    def reason(self, action: str) -> str:
        return self.pick(REASONS[action])

    def request_id(self) -> int:
        if self.reserved is not None:
            return next(self.reserved)
        if not self.request_ids:
            self.request_ids = self.take_ids("request", 256)[::-1]
        return self.request_ids.pop()

    def reserve_requests(self, ids: list[int]) -> None:
        """Number requests from ``ids`` only (a process without a connection)."""
        self.reserved = iter(ids)

    def daytime(self, moment: int, first: int, last: int) -> int:
        """``moment`` if it falls between the ``first`` and ``last`` minute of its local day,
        else soon after the ``first`` minute of the next such day."""
        midnight = self.local_day(moment)[1]
        minute = (moment - midnight) // 60
        if first <= minute < last:
            return moment
        if minute >= last:
            midnight = self.local_day(midnight + 30 * 3600)[1]
        return midnight + first * 60 + self.below(1800)

    def worker_day(self, moment: int) -> int:
        """Grid workers go on site from 07:30 to 20:00, any day of the week."""
        return self.daytime(moment, 450, 1200)

    def crew_time(self, moment: int) -> int:
        """Departments' field crews work shifts from 06:30 to 21:30, any day of the week
        (their deadlines still count working time only)."""
        return self.daytime(moment, 390, 1290)

    def handled(self, rec: Record, t: int, share: float) -> int:
        """When the department reports done, having started at ``t``: a lognormal share of
        the time its filing condition allows (working time, or the clock for urgent and
        calendar-day limits), worked without a break."""
        share *= self.handling_spread[int(self.random() * NORMAL_SIZE)]
        condition = rec.condition
        if condition.limit_unit == LimitUnit.WORKING_HOURS:
            allowed = condition.value * 3600
        elif condition.limit_unit == LimitUnit.WORKING_DAYS:
            allowed = condition.value * self.w.time.day_seconds
        else:
            allowed = rec.deadline - rec.filed
        return self.crew_time(t + max(300, int(share * allowed)))

    def department_for(self, rec: Record) -> int | None:
        kind = rec.category.department_kind
        if kind == "street":
            return rec.grid.street_office_id
        return self.w.departments.get(kind)

    def wrong_department(self, right: int | None) -> int | None:
        others = [pk for pk in self.w.departments.values() if pk != right]
        return self.pick(others) or right

    def event(self, rec, moment, action, to_stage, actor, reason="", payload="{}") -> None:
        """Record a transition; raise StopLife if it would happen after now. Effects on
        the case come after this call, so that a life stopped here has none of them."""
        if moment > self.latest:
            raise StopLife
        rec.events.append((moment, action, rec.stage, to_stage, actor, reason, payload))
        rec.stage = to_stage

    def request(self, rec, pk, moment, kind, by, payload="{}") -> None:
        rec.requests.append([pk, kind, "pending", payload, by, moment, None, None, ""])

    def decide(self, rec, pk, moment, by, approve, note="") -> None:
        for request in rec.requests:
            if request[0] == pk:
                request[2] = "approved" if approve else "rejected"
                request[6], request[7], request[8] = by, moment, note

    # ------------------------------------------------------------------ the life

    def new_record(self, case_id: int, source: str, moment: int) -> Record:
        """A case reported at ``moment``: its category, place and people, no history yet."""
        random, w = self.random, self.w
        rec = Record()
        rec.id = case_id
        rec.source = source
        rec.reported = moment
        category = w.categories[
            bisect.bisect(w.category_weights, random() * w.category_weights[-1])
        ]
        rec.category = category
        weights = category.condition_weights
        rec.condition = category.conditions[bisect.bisect(weights, random() * weights[-1])]
        grid = w.grids[bisect.bisect(w.grid_weights, random() * w.grid_weights[-1])]
        rec.grid = grid
        if random() < SPOT_SHARE:
            sx, sy, word = grid.spots[int(random() * SPOTS_PER_GRID)]
            rec.x, rec.y = grid.point_near(random, sx, sy, SPOT_SIGMA_M / 111_320)
        else:
            rec.x, rec.y = grid.point_in(random)
            word = SPOT_WORDS[int(random() * len(SPOT_WORDS))]
        self.fill_people(rec, word)
        rec.stage = ""
        return rec

    def fill_people(self, rec: Record, word: str) -> None:
        random, grid = self.random, rec.grid
        rec.address = f"{grid.street_name}{grid.community_name}{word}"
        rec.description = f"{grid.community_name}{word}：{rec.condition.text}"
        if rec.category.emergency:
            rec.urgency = "urgent" if random() < 0.7 else "normal"
        elif rec.condition.limit_unit == LimitUnit.URGENT_HOURS:
            rec.urgency = "urgent" if random() < 0.3 else "normal"
        else:
            rec.urgency = "urgent" if random() < 0.02 else "normal"
        rec.citizen_name = rec.citizen_phone = ""
        if rec.source == Source.PATROL:
            rec.reporter = grid.worker_id if random() < 0.85 else grid.deputy_id
        elif rec.source == Source.PUBLIC:
            rec.reporter = None
        elif rec.source == Source.LEADER:
            rec.reporter = self.pick(self.w.supervisors)
        else:  # a call or a camera, registered by the centre
            rec.reporter = self.pick(self.w.dispatchers)
        if rec.source in VERIFIED_SOURCES:
            rec.citizen_name = self.pick(SURNAMES) + self.pick(GIVEN)
            rec.citizen_phone = f"13{self.below(10**9):09d}"
        rec.number = None
        rec.deadline = rec.warn = rec.filed = rec.closed = None
        rec.supervision = rec.rework = rec.returns = 0
        rec.assignee = rec.department = rec.field_worker = rec.merged_into = None
        rec.routing_rule = None
        rec.events, rec.requests = [], []
        rec.reporters = [
            (rec.reporter, rec.citizen_name, rec.citizen_phone, rec.source, None, rec.reported)
        ]

    def live(self, rec: Record, stage: str) -> None:
        """Take the case from its report towards ``stage`` along a path of the workflow
        table; StopLife ends it early at the first step that would come after now."""
        random, w = self.random, self.w
        t = rec.reported
        grid = rec.grid
        if stage in SELF_STAGES:
            first = Stage.SELF_HANDLED
        elif rec.source in VERIFIED_SOURCES:
            first = Stage.VERIFYING
        else:
            first = Stage.REPORTED
        extra = ', "self_handled": true' if first == Stage.SELF_HANDLED else ""
        self.event(
            rec, t, "report", first, rec.reporter,
            payload=f'{{"source": "{rec.source}", "grid": "{grid.code}", "photos": 0{extra}}}',
        )  # fmt: skip
        if first == Stage.VERIFYING:
            rec.field_worker = grid.worker_id or grid.deputy_id
        if stage == first:
            return
        centre = self.centre

        if first == Stage.SELF_HANDLED:
            t += self.lognormal(3 * 3600, 0.6)
            if stage == Stage.ARCHIVED:
                self.event(rec, t, "approve_self", Stage.ARCHIVED, self.pick(centre))
            else:
                action = "invalidate_self"
                self.event(rec, t, action, Stage.INVALID, self.pick(centre), self.reason(action))
            rec.closed = t
            return

        if first == Stage.VERIFYING:
            t = self.worker_day(t + self.lognormal(50 * 60, 0.6))
            if stage == Stage.NOT_ACCEPTED and random() < 0.6:
                action = "verify_reject"
                self.event(
                    rec, t, action, Stage.NOT_ACCEPTED, rec.field_worker, self.reason(action)
                )
                return
            self.event(rec, t, "verify_confirm", Stage.REPORTED, rec.field_worker)
            rec.field_worker = None
            if stage == Stage.REPORTED:
                return

        t += self.lognormal(12 * 60, 0.7)
        if stage == Stage.NOT_ACCEPTED:
            action = "not_accept"
            self.event(rec, t, action, Stage.NOT_ACCEPTED, self.pick(centre), self.reason(action))
            return
        if stage == Stage.VOIDED and random() < 0.25:
            self.void(rec, t, self.pick(w.dispatchers))
            return

        # Filing (立案): the number and the clock.
        prefix = rec.category.full_code[:5]
        key = (prefix, self.local_day(t)[0])
        sequence = self.counters.get(key, 0) + 1
        number = f"{prefix}{key[1]:%Y%m%d}{sequence:04d}"
        deadline = w.time.deadline(t, rec.condition.value, rec.condition.limit_unit)
        self.event(
            rec, t, "file", Stage.FILED, self.pick(centre),
            payload=(
                f'{{"number": "{number}", "condition": {rec.condition.id}, '
                f'"deadline": "{iso(deadline)}"}}'
            ),
        )  # fmt: skip
        self.counters[key] = sequence
        rec.filed, rec.number, rec.deadline = t, number, deadline
        # The whole-case clock's warning, as the clocks give it when nothing is on hold.
        rec.warn = w.time.deadline(
            t, float(rec.condition.value) * WARN_SHARE, rec.condition.limit_unit
        )
        # Routing runs seconds later: the first matching rule dispatches, else the case
        # waits for a dispatcher, who sends it to the department that owns the category.
        t += 2 + self.below(28)
        rule = self.route(rec)
        returned = (stage == Stage.FILED and random() < 0.3) or random() < 0.02
        if rule is None:
            self.event(
                rec, t, "route_none", Stage.FILED, w.router_id, self.no_rule, '{"trace": []}'
            )
            if stage == Stage.FILED and not returned:
                return
            t = self.dispatch(rec, t + self.lognormal(4 * 60, 0.6), self.department_for(rec))
        else:
            t = self.dispatch(rec, t, rule.department_id, rule)
            if stage == Stage.FILED and not returned:
                # Routed, then sent back: waiting for the dispatcher again.
                returned = True
        if returned:
            # The usual owner was not the owner here: sent back, then on to another.
            right = self.wrong_department(rec.department)
            officer = rec.assignee or self.pick(w.officers.get(rec.department, []))
            t = self.crew_time(t + self.lognormal(40 * 60, 0.8))
            action = "request_return"
            pk = self.request_id()
            self.event(
                rec, t, action, rec.stage, officer, self.reason(action), f'{{"request": {pk}}}'
            )
            self.request(rec, pk, t, "return", officer)
            t += self.lognormal(30 * 60, 0.6)
            dispatcher = self.pick(w.dispatchers)
            self.event(
                rec, t, "approve_return", Stage.FILED, dispatcher,
                payload=f'{{"request": {pk}, "department": {rec.department}}}',
            )  # fmt: skip
            self.decide(rec, pk, t, dispatcher, True)
            rec.department = rec.assignee = None
            rec.returns += 1
            if stage == Stage.FILED:
                return
            t = self.dispatch(rec, t + self.lognormal(4 * 60, 0.6), right)

        if stage == Stage.VOIDED:
            by = (
                rec.assignee
                or self.pick(w.officers.get(rec.department, []))
                or self.pick(w.dispatchers)
            )
            self.void(rec, self.crew_time(t + self.lognormal(3 * 3600, 1.0)), by)
            return

        reworks = 0
        if stage == Stage.CLOSED:
            roll = random()
            reworks = 2 if roll < 0.005 else 1 if roll < 0.045 else 0
        elif stage == Stage.DISPATCHED and random() < 0.1:
            reworks = 1
        for round_ in range(reworks + 1):
            last = round_ == reworks
            if stage == Stage.DISPATCHED and last:
                return
            t = self.crew_time(t + self.lognormal(ACCEPT_MINUTES * 60, 0.8))
            officer = rec.assignee or self.pick(w.officers.get(rec.department, []))
            self.event(rec, t, "accept", Stage.IN_PROGRESS, officer)
            rec.assignee = officer
            if round_ == 0 and random() < 0.05:
                t = self.extension(rec, t, officer)
            if last and stage == Stage.IN_PROGRESS:
                return
            if last and (stage == Stage.ON_HOLD or (stage == Stage.CLOSED and random() < 0.01)):
                t = self.hold(rec, t, officer, resume=stage != Stage.ON_HOLD)
                if stage == Stage.ON_HOLD:
                    return
            # Reworks are quicker: the department knows the place.
            t = self.handled(rec, t, HANDLING_SHARE * (0.6 if round_ else 1))
            self.event(rec, t, "report_done", Stage.CHECKING, officer)
            rec.field_worker = grid.worker_id or grid.deputy_id
            if last and stage == Stage.CHECKING:
                return
            t = self.worker_day(t + self.lognormal(CHECK_MINUTES * 60, 0.7))
            if last:
                self.event(rec, t, "check_pass", Stage.CLOSED, rec.field_worker)
                rec.closed = t
            else:
                action = "check_fail"
                self.event(rec, t, action, Stage.DISPATCHED, rec.field_worker, self.reason(action))
                rec.rework += 1
            rec.field_worker = None

    def route(self, rec: Record) -> RuleInfo | None:
        """The routing rule that dispatches the case, as ``routing_decide`` finds it."""
        rules = self.rules_for[rec.category.id]
        if self.shaped:  # a drawn area: the point decides, not only the grid
            key = None
        else:
            key = (rec.category.id, rec.grid.id, rec.urgency)
            if key in self.routes:
                return self.routes[key]
        found = next(
            (
                rule
                for rule in rules
                if rule.matches(rec.category.full_code, rec.grid, rec.urgency, rec.x, rec.y)
            ),
            None,
        )
        if key is not None:
            self.routes[key] = found
        return found

    def dispatch(self, rec: Record, t: int, department: int | None, rule=None) -> int:
        """Dispatch at ``t`` by the router's ``rule``, or by a dispatcher a little later."""
        officers = self.w.officers.get(department, [])
        clock = self.w.department_time.get(department, self.w.time)
        # Off duty nobody is assigned: the case waits in the department's inbox.
        assignee = self.pick(officers) if clock.is_working(t) else None
        payload = (
            f'"department": {department}, "assignee": {"null" if assignee is None else assignee}'
        )
        if rule is None:
            by, reason, payload = self.pick(self.w.dispatchers), "", f"{{{payload}}}"
        else:
            by, reason = self.w.router_id, rule.reason
            payload = f'{{{payload}, "rule": {rule.id}, "trace": {rule.trace}}}'
        self.event(rec, t, "dispatch", Stage.DISPATCHED, by, reason, payload)
        rec.department, rec.assignee = department, assignee
        rec.routing_rule = None if rule is None else rule.id
        return t

    def void(self, rec: Record, t: int, by: int) -> None:
        action = "request_void"
        pk = self.request_id()
        self.event(rec, t, action, rec.stage, by, self.reason(action), f'{{"request": {pk}}}')
        self.request(rec, pk, t, "void", by)
        t += self.lognormal(2 * 3600, 0.7)
        leader = self.pick(self.w.leaders)
        self.event(rec, t, "approve_void", Stage.VOIDED, leader, payload=f'{{"request": {pk}}}')
        self.decide(rec, pk, t, leader, True)
        rec.closed = t
        rec.field_worker = None

    def extension(self, rec: Record, t: int, officer: int) -> int:
        t += self.lognormal(2 * 3600, 0.8)
        hours = self.pick([4, 8, 16, 24, 40])
        action = "request_extension"
        pk = self.request_id()
        self.event(
            rec, t, action, rec.stage, officer, self.reason(action),
            f'{{"request": {pk}, "hours": "{hours}"}}',
        )  # fmt: skip
        self.request(rec, pk, t, "extension", officer, f'{{"hours": "{hours}"}}')
        t += self.lognormal(45 * 60, 0.6)
        dispatcher = self.pick(self.w.dispatchers)
        if self.random() < 0.8:
            clock = self.w.department_time.get(rec.department, self.w.time)
            deadline = clock.add(rec.deadline, hours * 3600)
            self.event(
                rec, t, "approve_extension", rec.stage, dispatcher,
                payload=(
                    f'{{"request": {pk}, "old_deadline": "{iso(rec.deadline)}", '
                    f'"deadline": "{iso(deadline)}"}}'
                ),
            )  # fmt: skip
            self.decide(rec, pk, t, dispatcher, True)
            rec.warn += deadline - rec.deadline
            rec.deadline = deadline
        else:
            action = "reject_extension"
            reason = self.reason(action)
            self.event(rec, t, action, rec.stage, dispatcher, reason, f'{{"request": {pk}}}')
            self.decide(rec, pk, t, dispatcher, False, reason)
        return t

    def hold(self, rec: Record, t: int, officer: int, resume: bool) -> int:
        t += self.lognormal(3 * 3600, 0.8)
        action = "request_hold"
        pk = self.request_id()
        self.event(rec, t, action, rec.stage, officer, self.reason(action), f'{{"request": {pk}}}')
        self.request(rec, pk, t, "hold", officer)
        t += self.lognormal(60 * 60, 0.6)
        dispatcher = self.pick(self.w.dispatchers)
        self.event(
            rec, t, "approve_hold", Stage.ON_HOLD, dispatcher, payload=f'{{"request": {pk}}}'
        )
        self.decide(rec, pk, t, dispatcher, True)
        if resume:
            t += self.lognormal(4 * 86400, 0.7)
            self.event(rec, t, "resume", Stage.IN_PROGRESS, dispatcher, self.reason("resume"))
        return t

    def supervise(self, rec: Record) -> None:
        """An overdue open case may have had a supervision order (督办)."""
        if rec.deadline is None or rec.stage not in (
            Stage.FILED, Stage.DISPATCHED, Stage.IN_PROGRESS, Stage.ON_HOLD, Stage.CHECKING
        ) or self.random() >= 0.4:  # fmt: skip
            return
        t = max(rec.deadline, rec.events[-1][0]) + self.lognormal(4 * 3600, 0.8)
        if t >= self.now - 60:
            return
        overdue_days = (self.now - rec.deadline) / 86400
        level = 3 if overdue_days > 10 else 2 if overdue_days > 3 else 1
        action = "supervise"
        self.event(
            rec, t, action, rec.stage, self.pick(self.w.supervisors), self.reason(action),
            f'{{"old_level": 0, "level": {level}}}',
        )  # fmt: skip
        rec.supervision = level

    def make(self, case_id: int, stage: str, source: str, moment: int) -> Record:
        """A case reported at ``moment`` whose life heads for ``stage``, as it stands now."""
        rec = self.new_record(case_id, source, moment)
        try:
            self.live(rec, stage)
        except StopLife:
            pass  # reported recently: the rest of its life is still to come
        self.supervise(rec)
        rec.version = len(rec.events)
        return rec

    # ------------------------------------------------------------------ merges

    def merge(self, rec: Record, batch: list[Record], position: int) -> bool:
        """Make ``rec`` a later report of an open case nearby in ``batch`` and merge it
        into that case; False if no case in the batch was open long enough."""
        rng = self.rng
        for step in range(1, 400):
            index = position - step if step % 2 else position + step
            if not 0 <= index < len(batch):
                continue
            target = batch[index]
            if not target.events or target.stage == Stage.MERGED:
                continue
            end = next((e[0] for e in target.events if e[3] not in OPEN_STAGES), self.now - 60)
            span = end - target.reported
            if span < 1800:
                continue
            report = target.reported + int(min(3 * 3600, span / 2) * rng.uniform(0.1, 1))
            merge_at = min(report + self.lognormal(25 * 60, 0.6), end - 60)
            if merge_at <= report:
                continue
            break
        else:
            return False
        rec.reported = report
        rec.category, rec.condition, rec.grid = target.category, target.condition, target.grid
        rec.x, rec.y = rec.grid.point_near(self.random, target.x, target.y, 20 / 111_320)
        rec.source = Source.HOTLINE if rng.random() < 0.4 else Source.PATROL
        self.fill_people(
            rec, target.address.removeprefix(rec.grid.street_name + rec.grid.community_name)
        )
        if rec.source == Source.PATROL:
            rec.reporter = rec.grid.deputy_id  # a second worker saw it too
            rec.reporters = [(rec.reporter, "", "", rec.source, None, report)]
        rec.stage = ""
        first = Stage.VERIFYING if rec.source == Source.HOTLINE else Stage.REPORTED
        self.event(
            rec, report, "report", first, rec.reporter,
            payload=f'{{"source": "{rec.source}", "grid": "{rec.grid.code}", "photos": 0}}',
        )  # fmt: skip
        if first == Stage.VERIFYING:
            rec.field_worker = rec.grid.worker_id or rec.grid.deputy_id
        centre = self.pick(self.centre)
        reason = self.reason("merge")
        self.event(
            rec, merge_at, "merge", Stage.MERGED, centre, reason,
            f'{{"into": {target.id}, "reporters": 1}}',
        )  # fmt: skip
        rec.merged_into = target.id
        rec.closed = merge_at
        rec.version = len(rec.events)
        # The target takes in the duplicate: a reporter row and an "absorb" event at the
        # stage it was in then, placed in time among its own events.
        at_stage = target.events[0][3]
        where = len(target.events)
        for i, e in enumerate(target.events):
            if e[0] > merge_at:
                where = i
                break
            at_stage = e[3]
        target.events.insert(
            where,
            (merge_at, "absorb", at_stage, at_stage, centre, reason,
             f'{{"case": {rec.id}, "reporters": 1}}'),
        )  # fmt: skip
        reporter = rec.reporters[0]
        target.reporters.append(reporter[:4] + (rec.id, merge_at))
        target.version += 1
        return True


def simulate(simulator: Simulator, chunk: list[int], case_ids: list[int]) -> list[Record]:
    """The records of a batch of the plan, merges resolved within the batch."""
    records, merges = [], []
    for case_id, key in zip(case_ids, chunk, strict=True):
        stage = STAGES[(key >> 3) & 31]
        source = SOURCES[key & 7]
        if stage == Stage.MERGED:
            rec = simulator.new_record(case_id, source, key >> 8)
            merges.append(len(records))
        else:
            rec = simulator.make(case_id, stage, source, key >> 8)
        records.append(rec)
    for position in merges:
        rec = records[position]
        if not simulator.merge(rec, records, position):
            # Nothing open nearby to merge into: the centre turns it down.
            rec.stage = ""
            rec.events = []
            records[position] = simulator.make(rec.id, Stage.NOT_ACCEPTED, rec.source, rec.reported)
    return records
