"""Shapes of the synthetic population, from docs/business_rules.md. One place, named.

Figures are the domain essays' illustrative numbers: realistic defaults, not truths.
"""

from __future__ import annotations

from datetime import date

DEFAULT_END_DATE = date(2026, 10, 31)  # fixed so that a seed always gives the same files
HISTORY_DAYS = 180  # the first partition is a full export carrying this much history
# Heart-rate samples a band syncs per device-day. 3 keeps tests small; the benchmark raises it
# (scripts/bench.py) so that 1M patients carry about 100M readings a year.
DEFAULT_HR_PER_DAY = 3
DEFAULT_DIRT_RATE = 0.002

# Age mix of new platform users: ~62% 25-45, 18% over 60, 14% aged 0-14, rest other adults.
AGE_GROUPS = [  # (low, high inclusive, share)
    (0, 14, 0.14),
    (15, 24, 0.03),
    (25, 45, 0.62),
    (46, 59, 0.03),
    (60, 92, 0.18),
]

# Chronic prevalence by age group (68% of the over-60s end up with at least one).
CHRONIC_PREVALENCE = {  # condition: {age_low: probability}
    "diabetes": {0: 0.0, 15: 0.01, 25: 0.04, 46: 0.12, 60: 0.34},
    "hypertension": {0: 0.0, 15: 0.01, 25: 0.06, 46: 0.20, 60: 0.45},
    "copd": {0: 0.0, 15: 0.0, 25: 0.005, 46: 0.02, 60: 0.09},
    "oncology": {0: 0.0, 15: 0.002, 25: 0.01, 46: 0.03, 60: 0.05},
}
GESTATIONAL_DIABETES_RATE = 0.03  # of women aged 25-40
ONCOLOGY_FAMILY_HISTORY_RATE = 0.02
MEDICATION_ADHERENT_SHARE = 0.35  # "only about 35% of chronic patients take medication regularly"

ICD10 = {
    "diabetes": ["E11.9", "E11.65", "E11.22"],
    "gestational_diabetes": ["O24.4"],
    "hypertension": ["I10"],
    "copd": ["J44.9", "J44.1"],
    "oncology": ["C50.9", "C34.9", "C16.9"],
    "oncology_family_history": ["Z80.0"],
}
ACUTE = {  # specialty: (department, icd10 codes)
    "paediatrics": ("儿科", ["J06.9", "A09.9", "J20.9"]),
    "dermatology": ("皮肤科", ["L20.9", "L30.9", "B35.4"]),
    "gynaecology": ("妇科", ["N76.0", "N92.0", "N94.6"]),
    "general": ("全科", ["J06.9", "R50.9", "K29.7"]),
    "neurology": ("神经内科", ["G43.9", "R51"]),
    "reproductive": ("生殖医学科", ["N97.9"]),
}
CHRONIC_SPECIALTY = {
    "diabetes": ("endocrinology", "内分泌科"),
    "gestational_diabetes": ("endocrinology", "内分泌科"),
    "hypertension": ("cardiology", "心内科"),
    "copd": ("respiratory", "呼吸科"),
    "oncology": ("oncology", "肿瘤科"),
}

# Channels: share of persons acquired, lead->patient conversion, cost per impression
# (yuan), click-through rate. Outdoor ads convert under 1% of those reached with ROI
# about 1:2; community groups about 15% with ROI about 1:8 (domain.md).
CHANNELS = {
    "search": (0.30, 0.45, 0.020, 0.030),
    "social_video": (0.16, 0.25, 0.012, 0.020),
    "vertical_health": (0.12, 0.40, 0.025, 0.025),
    "private_domain": (0.10, 0.55, 0.004, 0.080),
    "offline_clinic": (0.06, 0.60, 0.060, 0.050),
    "enterprise_health": (0.05, 0.50, 0.030, 0.060),
    "partner_referral": (0.05, 0.55, 0.020, 0.050),
    "patient_referral": (0.06, 0.65, 0.002, 0.100),
    "outdoor_ads": (0.04, 0.08, 0.080, 0.004),
    "community_group": (0.06, 0.70, 0.003, 0.150),
}
CRM_SHARE = 0.75  # persons known to CRM (the rest walk into HIS directly)
CONSULT_SHARE = 0.55  # of persons with HIS or converted leads
WEARABLE_SHARE_CHRONIC = 0.55
WEARABLE_SHARE_OTHER = 0.04
MARKETING_CONSENT_RATE = 0.72
CONSENT_WITHDRAWAL_RATE = 0.05

# Identity noise.
DUPLICATE_MRN_RATE = 0.015  # persons registered twice in HIS (same ID number)
GUARDIAN_MOBILE_RATE = 0.2  # children registered with a guardian's phone (~3% of HIS patients)
MISSING_ID_RATE = 0.03  # HIS records without an ID number (foreigners, old records)
NAME_TYPO_RATE = 0.05
MOBILE_CHANGE_RATE = 0.02
DEVICE_REBIND_RATE = 0.03
SECOND_CRM_CONTACT_RATE = 0.06
LEAD_WITHOUT_MOBILE_RATE = 0.05

# Activity and churn: a share of people stop interacting (silent after 30 days,
# churned after 90), the rest keep a personal activity rate.
CHURN_SHARE = 0.35

# Consult service: reply within 30 minutes is the standard; lognormal with a long tail.
CONSULT_RESPONSE_MEDIAN_MIN = 16.0
CONSULT_RESPONSE_SIGMA = 0.95
CONSULT_ABANDON_RATE = 0.06
CONSULT_REFUND_RATE = 0.02

CITIES = [  # (city, province, weight)
    ("北京", "北京", 9),
    ("上海", "上海", 9),
    ("广州", "广东", 7),
    ("深圳", "广东", 7),
    ("杭州", "浙江", 5),
    ("成都", "四川", 5),
    ("武汉", "湖北", 5),
    ("南京", "江苏", 4),
    ("苏州", "江苏", 3),
    ("重庆", "重庆", 5),
    ("西安", "陕西", 4),
    ("天津", "天津", 4),
    ("长沙", "湖南", 3),
    ("郑州", "河南", 3),
    ("青岛", "山东", 3),
    ("济南", "山东", 2),
    ("沈阳", "辽宁", 2),
    ("大连", "辽宁", 2),
    ("哈尔滨", "黑龙江", 2),
    ("长春", "吉林", 2),
    ("合肥", "安徽", 2),
    ("福州", "福建", 2),
    ("厦门", "福建", 2),
    ("南昌", "江西", 1),
    ("昆明", "云南", 2),
    ("贵阳", "贵州", 1),
    ("南宁", "广西", 1),
    ("石家庄", "河北", 2),
    ("太原", "山西", 1),
    ("兰州", "甘肃", 1),
]
PROVINCE_CODES = {
    "北京": "11",
    "天津": "12",
    "河北": "13",
    "山西": "14",
    "辽宁": "21",
    "吉林": "22",
    "黑龙江": "23",
    "上海": "31",
    "江苏": "32",
    "浙江": "33",
    "安徽": "34",
    "福建": "35",
    "江西": "36",
    "山东": "37",
    "河南": "41",
    "湖北": "42",
    "湖南": "43",
    "广东": "44",
    "广西": "45",
    "重庆": "50",
    "四川": "51",
    "贵州": "52",
    "云南": "53",
    "陕西": "61",
    "甘肃": "62",
}
INSURANCE_TYPES = ["urban_employee", "urban_rural_resident", "commercial", "self_pay"]
INSURANCE_WEIGHTS = [0.45, 0.35, 0.08, 0.12]
PAYMENT_METHODS = ["wechat_pay", "alipay", "insurance", "card", "cash"]
PAYMENT_WEIGHTS = [0.40, 0.22, 0.28, 0.07, 0.03]

DRUGS = {  # condition: (code, name, unit price)
    "diabetes": ("MET500", "二甲双胍片", 1.2),
    "gestational_diabetes": ("INS100", "胰岛素注射液", 45.0),
    "hypertension": ("AML5", "苯磺酸氨氯地平片", 2.1),
    "copd": ("TIO18", "噻托溴铵吸入剂", 9.5),
    "oncology": ("TAM10", "他莫昔芬片", 6.0),
    "acute": ("AMX250", "阿莫西林胶囊", 0.8),
}
NPS_COMMENTS = ["医生回复很快", "没什么效果", "太麻烦了", "服务很好，推荐给家人", "挂号方便", "等待时间太长", ""]

# Age bands written to _truth/persons.csv (lower bound inclusive).
AGE_BANDS = [(0, "0-14"), (15, "15-24"), (25, "25-45"), (46, "46-59"), (60, "60+")]
