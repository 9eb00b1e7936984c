"""The standard classification (GB/T 30428.2) as GridGov ships it: the six component and six
event major classes, a common set of minor classes, and filing conditions with disposal limits
taken from published city standards. Cities edit all of it in the admin; minor numbering
varies by city.

Each minor: (code, name, English name, [(condition, limit, unit, closing condition, dept)])
where dept is a kind of department the demo maps to a real one.
"""

U, WH, WD, CD = "urgent_hours", "working_hours", "working_days", "calendar_days"

COMPONENTS = [
    (
        "01",
        "公用设施",
        "Public utilities",
        [
            (
                "01",
                "上水井盖",
                "Water-supply manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "water"),
                ],
            ),
            (
                "02",
                "污水井盖",
                "Sewage manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "water"),
                ],
            ),
            (
                "03",
                "雨水井盖",
                "Storm-drain manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "water"),
                ],
            ),
            (
                "04",
                "雨水箅子",
                "Storm-drain grate",
                [
                    ("箅子丢失、破损或堵塞", 4, WH, "箅子已补装或疏通", "water"),
                ],
            ),
            (
                "05",
                "电力井盖",
                "Power manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "municipal"),
                ],
            ),
            (
                "10",
                "热力井盖",
                "District-heating manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "municipal"),
                ],
            ),
            (
                "11",
                "燃气井盖",
                "Gas manhole cover",
                [
                    ("井盖丢失、破损、移位", 2, U, "井盖已补装、更换或复位", "municipal"),
                ],
            ),
            (
                "14",
                "消防栓",
                "Fire hydrant",
                [
                    ("消防栓损坏、漏水", 1, WD, "消防栓已修复", "municipal"),
                ],
            ),
            (
                "20",
                "路灯",
                "Street light",
                [
                    ("路灯不亮（连续3盏以上）", 1, WD, "路灯已亮", "municipal"),
                    ("路灯灯杆倾斜、灯具破损", 3, WD, "灯杆扶正、灯具修复", "municipal"),
                ],
            ),
            (
                "22",
                "报刊亭",
                "Newsstand",
                [
                    ("报刊亭破损、污损", 5, WD, "已修复或清洁", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "02",
        "道路交通",
        "Roads and traffic",
        [
            (
                "01",
                "过街天桥",
                "Footbridge",
                [
                    ("桥面破损、护栏损坏", 3, WD, "已修复", "municipal"),
                ],
            ),
            (
                "05",
                "公交站亭",
                "Bus shelter",
                [
                    ("站亭破损、污损", 3, WD, "已修复或清洁", "traffic"),
                ],
            ),
            (
                "09",
                "交通标志牌",
                "Traffic sign",
                [
                    ("标志牌缺失、倾斜、遮挡", 2, WD, "已补装或扶正", "traffic"),
                ],
            ),
            (
                "10",
                "交通信号灯",
                "Traffic light",
                [
                    ("信号灯不亮或故障", 4, U, "信号灯恢复正常", "traffic"),
                ],
            ),
            (
                "11",
                "交通护栏",
                "Guard-rail",
                [
                    ("护栏破损、倾倒", 2, WD, "已修复", "traffic"),
                ],
            ),
        ],
    ),
    (
        "03",
        "市容环境",
        "City appearance",
        [
            (
                "01",
                "公共厕所",
                "Public toilet",
                [
                    ("厕所脏污、设施损坏", 4, WH, "已清洁、修复", "sanitation"),
                ],
            ),
            (
                "04",
                "垃圾箱",
                "Litter bin",
                [
                    ("垃圾箱满溢、破损", 2, WH, "已清运或修复", "sanitation"),
                ],
            ),
            (
                "05",
                "广告牌匾",
                "Signboard",
                [
                    ("牌匾破损、有坠落危险", 4, U, "已拆除或加固", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "04",
        "园林绿化",
        "Landscaping",
        [
            (
                "01",
                "绿地",
                "Green space",
                [
                    ("绿地缺株、枯死、被踩踏", 5, WD, "已补植", "landscaping"),
                ],
            ),
            (
                "05",
                "行道树",
                "Street tree",
                [
                    ("行道树倒伏、枯死、有折断危险", 4, U, "已扶正、修剪或移除", "landscaping"),
                ],
            ),
            (
                "08",
                "街头座椅",
                "Street bench",
                [
                    ("座椅破损", 3, WD, "已修复", "landscaping"),
                ],
            ),
        ],
    ),
    (
        "05",
        "房屋土地",
        "Buildings and land",
        [
            (
                "01",
                "宣传栏",
                "Notice board",
                [
                    ("宣传栏破损", 5, WD, "已修复", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "06",
        "其他设施",
        "Other facilities",
        [
            (
                "01",
                "健身设施",
                "Fitness equipment",
                [
                    ("健身器材损坏、有安全隐患", 2, WD, "已修复或停用", "street"),
                ],
            ),
        ],
    ),
]

EVENTS = [
    (
        "01",
        "市容环境",
        "City appearance",
        [
            (
                "01",
                "私搭乱建",
                "Illegal structure",
                [
                    ("正在搭建的违法建设", 4, WH, "已停工", "enforcement"),
                    ("已建成的违法建设", 20, WD, "已拆除", "enforcement"),
                ],
            ),
            (
                "02",
                "暴露垃圾",
                "Exposed garbage",
                [
                    ("主次干道、公共场所可见的垃圾堆", 4, WH, "垃圾已清除", "sanitation"),
                ],
            ),
            (
                "03",
                "积存垃圾渣土",
                "Accumulated garbage and spoil",
                [
                    ("建筑垃圾", 4, WH, "已清运", "sanitation"),
                    ("渣土堆积", 2, WD, "已清运", "sanitation"),
                ],
            ),
            (
                "04",
                "道路不洁",
                "Dirty road",
                [
                    ("08:00后道路、公共场所不洁", 2, WH, "路面已清洁", "sanitation"),
                    ("路面积水", 4, WH, "积水已排除", "sanitation"),
                ],
            ),
            (
                "05",
                "水域不洁",
                "Dirty water body",
                [
                    ("水面漂浮垃圾", 1, WD, "水面已清洁", "water"),
                ],
            ),
            (
                "06",
                "绿地脏乱",
                "Littered green space",
                [
                    ("绿地内有垃圾杂物", 4, WH, "已清理", "landscaping"),
                ],
            ),
            (
                "07",
                "废弃家具设备",
                "Abandoned furniture",
                [
                    ("公共区域废弃家具、设备", 1, WD, "已清运", "sanitation"),
                ],
            ),
            (
                "08",
                "废弃车辆",
                "Abandoned vehicle",
                [
                    ("长期停放的废弃车辆", 10, WD, "已拖移", "enforcement"),
                ],
            ),
            (
                "09",
                "焚烧垃圾树叶",
                "Open burning",
                [
                    ("露天焚烧垃圾、树叶", 1, U, "火已扑灭、现场清理", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "02",
        "宣传广告",
        "Publicity and advertising",
        [
            (
                "01",
                "非法小广告",
                "Illegal small ads",
                [
                    ("张贴、涂写、刻画小广告", 1, WD, "已清除", "sanitation"),
                ],
            ),
            (
                "02",
                "违规户外广告",
                "Unauthorised outdoor ads",
                [
                    ("未经批准设置的户外广告", 5, WD, "已拆除", "enforcement"),
                ],
            ),
            (
                "03",
                "街头散发广告",
                "Flyer distribution",
                [
                    ("街头散发广告", 2, WH, "已制止", "enforcement"),
                ],
            ),
            (
                "06",
                "悬挂横幅",
                "Unauthorised banners",
                [
                    ("未经批准悬挂横幅标语", 1, WD, "已拆除", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "03",
        "施工管理",
        "Construction",
        [
            (
                "01",
                "施工废弃料",
                "Construction waste",
                [
                    ("施工废弃料未及时清运", 1, WD, "已清运", "enforcement"),
                ],
            ),
            (
                "02",
                "施工占道",
                "Road occupation",
                [
                    ("未经批准或超范围占道施工", 4, WH, "已恢复通行", "traffic"),
                ],
            ),
            (
                "04",
                "施工扰民",
                "Construction noise",
                [
                    ("夜间违规施工", 2, U, "已停止施工", "enforcement"),
                ],
            ),
            (
                "05",
                "工地扬尘",
                "Construction dust",
                [
                    ("工地未覆盖、扬尘", 4, WH, "已覆盖、洒水", "enforcement"),
                ],
            ),
            (
                "06",
                "道路遗撒",
                "Spillage on road",
                [
                    ("运输车辆遗撒", 2, WH, "已清理", "sanitation"),
                ],
            ),
        ],
    ),
    (
        "04",
        "突发事件",
        "Emergencies",
        [
            (
                "01",
                "路面塌陷",
                "Road collapse",
                [
                    ("路面塌陷、坑洞", 2, U, "已围挡并修复", "municipal"),
                ],
            ),
            (
                "02",
                "自来水管破裂",
                "Water-main burst",
                [
                    ("供水管道破裂", 2, U, "已止水并修复", "water"),
                ],
            ),
            (
                "03",
                "燃气管道破裂",
                "Gas-pipe rupture",
                [
                    ("燃气泄漏", 1, U, "已止漏", "municipal"),
                ],
            ),
            (
                "04",
                "下水道堵塞",
                "Blocked sewer",
                [
                    ("下水道堵塞、污水外溢", 4, U, "已疏通", "water"),
                ],
            ),
            (
                "05",
                "道路积水",
                "Waterlogging",
                [
                    ("道路积水影响通行", 2, U, "积水已排除", "water"),
                ],
            ),
            (
                "06",
                "道路积雪结冰",
                "Snow and ice",
                [
                    ("主要道路积雪、结冰", 4, U, "已清除", "sanitation"),
                ],
            ),
        ],
    ),
    (
        "05",
        "街面秩序",
        "Street order",
        [
            (
                "01",
                "无照经营游商",
                "Unlicensed street vending",
                [
                    ("流动摊贩占道经营", 2, WH, "已劝离", "enforcement"),
                ],
            ),
            (
                "02",
                "店外经营",
                "Trading outside a shop",
                [
                    ("店外摆卖、占道经营", 4, WH, "已规范", "enforcement"),
                ],
            ),
            (
                "04",
                "机动车乱停放",
                "Illegal car parking",
                [
                    ("机动车占用人行道、盲道停放", 2, WH, "车辆已移走", "traffic"),
                ],
            ),
            (
                "05",
                "非机动车乱停放",
                "Illegal bike parking",
                [
                    ("共享单车等乱停放", 4, WH, "已规整", "street"),
                ],
            ),
            (
                "06",
                "乱堆物堆料",
                "Stacking materials",
                [
                    ("公共区域乱堆物", 1, WD, "已清理", "street"),
                ],
            ),
            (
                "07",
                "露天烧烤",
                "Open-air barbecue",
                [
                    ("占道露天烧烤", 2, U, "已制止并清理", "enforcement"),
                ],
            ),
        ],
    ),
    (
        "06",
        "其他事件",
        "Other events",
        [
            (
                "01",
                "其他",
                "Other",
                [
                    ("其他城市管理问题", 5, WD, "问题已解决", "street"),
                ],
            ),
        ],
    ),
]


def load(Category, FilingCondition) -> int:
    """Create what is missing (by full code); never overwrites an administrator's edits."""
    created = 0
    for kind, tree in (("C", COMPONENTS), ("E", EVENTS)):
        for major_code, name, name_en, minors in tree:
            major, new = Category.objects.get_or_create(
                full_code=kind + major_code,
                defaults={"kind": kind, "code": major_code, "name": name, "name_en": name_en},
            )
            created += new
            for minor_code, minor_name, minor_en, conditions in minors:
                minor, new = Category.objects.get_or_create(
                    full_code=kind + major_code + minor_code,
                    defaults={
                        "kind": kind,
                        "parent": major,
                        "code": minor_code,
                        "name": minor_name,
                        "name_en": minor_en,
                    },
                )
                created += new
                if new:
                    for condition, limit, unit, closing, _dept in conditions:
                        FilingCondition.objects.create(
                            category=minor,
                            condition=condition,
                            limit_value=limit,
                            limit_unit=unit,
                            closing_condition=closing,
                        )
    return created


def department_kinds() -> dict[str, str]:
    """Minor full code → the kind of department that usually owns it (for demo routing)."""
    owners = {}
    for kind, tree in (("C", COMPONENTS), ("E", EVENTS)):
        for major_code, _name, _en, minors in tree:
            for minor_code, _n, _e, conditions in minors:
                owners[kind + major_code + minor_code] = conditions[0][4]
    return owners
