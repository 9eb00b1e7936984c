"""The mix of synthetic cases: stages, sources, categories, hours and places, as data."""

from statistics import NormalDist
from types import SimpleNamespace

from .. import models


def plain(choices) -> SimpleNamespace:
    """A TextChoices as plain strings. The simulation looks stages up and compares them
    millions of times, and an enum member's lookup and comparison cost several times a
    str's; the values written are the same."""
    return SimpleNamespace(**{member.name: member.value for member in choices})


Stage = plain(models.Stage)
Source = plain(models.Source)
LimitUnit = plain(models.LimitUnit)
OPEN_STAGES = frozenset(stage.value for stage in models.OPEN_STAGES)

# Per cent of all cases by the stage their life heads for. A life still running when the
# cases are generated stops where it has got to, so recent cases are open as they would be;
# the open stages here are the backlog, stuck for STUCK_DAYS or more (Dongcheng closes > 95 %
# of a month's cases). Each stage gets at least one case in any run of 100 or more.
STAGE_SHARE = {
    Stage.CLOSED: 90.55,
    Stage.ARCHIVED: 3.0,
    Stage.NOT_ACCEPTED: 2.5,
    Stage.MERGED: 1.4,
    Stage.VOIDED: 0.6,
    Stage.INVALID: 0.3,
    # the backlog, 1.65 %
    Stage.IN_PROGRESS: 0.7,
    Stage.ON_HOLD: 0.25,
    Stage.DISPATCHED: 0.2,
    Stage.CHECKING: 0.15,
    Stage.FILED: 0.12,
    Stage.REPORTED: 0.1,
    Stage.SELF_HANDLED: 0.08,
    Stage.VERIFYING: 0.05,
}
STAGES = list(STAGE_SHARE)
STUCK_DAYS = 14

# How long the steps take (medians, lognormal). Handling takes a share of the time the
# filing condition allows: about 96 % of cases are done in time, 92 % closed in time, and
# handling takes about 5 hours on average (Dongcheng: > 95 % closed, < 7 h handling).
ACCEPT_MINUTES = 15
HANDLING_SHARE = 0.35
HANDLING_SIGMA = 0.6
CHECK_MINUTES = 40

SOURCE_SHARE = {
    Source.PATROL: 82,
    Source.HOTLINE: 9,
    Source.PUBLIC: 4,
    Source.VIDEO: 3,
    Source.LEADER: 2,
}
SOURCES = list(SOURCE_SHARE)
VERIFIED_SOURCES = (Source.HOTLINE, Source.PUBLIC)
SELF_STAGES = (Stage.SELF_HANDLED, Stage.ARCHIVED, Stage.INVALID)

# Per cent of all cases by major class: Beijing Daxing's month, components together ~5 %.
MAJOR_SHARE = {
    "E01": 65.0,  # 市容环境
    "E05": 24.0,  # 街面秩序
    "E02": 3.0,  # 宣传广告
    "E03": 2.0,  # 施工管理
    "E04": 0.6,  # 突发事件
    "E06": 0.4,  # 其他事件
    "C01": 2.2,  # 公用设施
    "C02": 0.9,  # 道路交通
    "C03": 1.2,  # 市容环境 (部件)
    "C04": 0.5,  # 园林绿化
    "C05": 0.1,  # 房屋土地
    "C06": 0.1,  # 其他设施
}
# Relative weight of a minor class within its major; a minor not listed weighs 1.
MINOR_WEIGHT = {
    # exposed garbage and dirty roads dominate city appearance
    "E0101": 6, "E0102": 30, "E0103": 12, "E0104": 28, "E0105": 1, "E0106": 9,
    "E0107": 10, "E0108": 3, "E0109": 1,
    # shops trading outside, parked bikes and cars, stacked materials
    "E0501": 14, "E0502": 26, "E0504": 18, "E0505": 22, "E0506": 18, "E0507": 2,
    "E0201": 70, "E0202": 10, "E0203": 12, "E0206": 8,
    "E0301": 20, "E0302": 30, "E0304": 10, "E0305": 25, "E0306": 15,
    "E0401": 15, "E0402": 15, "E0403": 5, "E0404": 40, "E0405": 20, "E0406": 5,
    "C0101": 5, "C0102": 12, "C0103": 8, "C0104": 20, "C0105": 5, "C0110": 4,
    "C0111": 3, "C0114": 3, "C0120": 35, "C0122": 5,
    "C0201": 5, "C0205": 20, "C0209": 30, "C0210": 15, "C0211": 30,
    "C0301": 20, "C0304": 65, "C0305": 15,
    "C0401": 40, "C0405": 45, "C0408": 15,
}  # fmt: skip
FIRST_CONDITION_SHARE = 0.75  # a minor's first filing condition; the others share the rest

# Reports per hour of the local day (relative). Patrols run in day shifts; calls go on
# into the evening.
PATROL_HOURS = [0, 0, 0, 0, 0, 0, 0.3, 1.5, 4, 6, 6.5, 5.5, 3, 3.5, 5.5, 6, 5, 3.5, 1.5, 0.6,
                0.3, 0.2, 0.1, 0.05]  # fmt: skip
CALL_HOURS = [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3, 4, 4, 3.5, 3, 3, 3.5, 3.5, 3.5, 3.5,
              3.5, 4, 4, 3, 1.5, 0.7]  # fmt: skip
DAY_WEIGHT = {"weekday": 1.0, "saturday": 0.72, "sunday": 0.62, "holiday": 0.55}

HOTSPOTS_PER_GRID = 1 / 30  # a few dozen over the demo's 1,090 grids
HOTSPOT_SHARE = 0.6  # of cases drawn from hotspots; the rest uniformly by area
SPOTS_PER_GRID = 3
SPOT_SHARE = 0.5  # of a grid's cases at one of its recurring spots
SPOT_SIGMA_M = 12
SPOT_WORDS = ["路口", "公交站旁", "小区门口", "胡同内", "人行道上", "商铺门前", "菜市场附近",
              "学校门口", "公园入口", "地铁站出口", "停车场", "居民楼下"]  # fmt: skip

REASONS = {
    "verify_reject": ["现场未发现该问题", "问题已自行消失", "位置描述有误，现场核实不存在"],
    "not_accept": ["不属于城市管理范围", "重复上报", "描述不清，无法立案"],
    "merge": ["与已有案件为同一问题"],
    "request_return": ["不属于本部门职责", "权属单位有误"],
    "request_extension": ["需协调产权单位", "材料采购需要时间", "天气原因无法施工"],
    "reject_extension": ["时限内可以完成"],
    "request_hold": ["涉及产权纠纷，需等待协调", "需等待上级审批"],
    "resume": ["协调完毕，恢复处置"],
    "request_void": ["重复立案", "立案信息有误"],
    "invalidate_self": ["照片不能证明已处置"],
    "check_fail": ["现场问题仍然存在", "处置不彻底"],
    "supervise": ["超时未处置，请尽快办理"],
}

# Standard normal quantiles: a draw is one random() and an index.
NORMAL_SIZE = 4096
NORMAL = [NormalDist().inv_cdf((i + 0.5) / NORMAL_SIZE) for i in range(NORMAL_SIZE)]
