"""Regenerate tools/data/sample_ledger.json: >= 40 customers that exercise every rule path.

Run: .venv/bin/python scripts/make_sample_ledger.py   (the JSON is committed; this documents it)
Names, ID numbers and phone numbers are synthetic.
"""
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tools" / "data" / "sample_ledger.json"


def idn(i: int) -> str:
    return f"1101011990{(i % 12) + 1:02d}{(i % 27) + 1:02d}{i:03d}{i % 10}"[:18]


def person(i, name, occupation, tier, opened, limit, used, *, status="active", kyc=True, quotas=(), records=(), note=None):
    c = {
        "customer_id": f"C{1000 + i}", "name": name, "id_number": idn(i), "phone": f"139{i:04d}{(i * 7) % 10000:04d}",
        "occupation": occupation, "risk_tier": tier, "kyc_verified": kyc, "opened_on": opened, "status": status,
        "credit_line": {"limit": limit, "used": used},
        "temp_quotas": [dict(zip(("amount", "purpose", "granted_on", "expires_on"), q)) for q in quotas],
        "overdue_records": [dict(zip(("record_id", "institution", "product", "amount", "overdue_since", "repaid_on"), r))
                            for r in records],
    }
    if note:
        c["note"] = note
    return c


C = [
    person(1, "张伟", "delivery rider", "A", "2024-03-01", 1500, 200,
           quotas=[(3000, "work_tools", "2026-11-01", "2026-11-30")],
           records=[("R1", "某银行", "credit_card", 800.00, "2023-03-05", "2025-10-15")],
           note="TQ4: unexpired temporary quota until 2026-11-30; repair eligible, hidden from 2026-01-01"),
    person(2, "李娜", "newly hired delivery rider", "B", "2026-06-01", 2000, 0,
           note="needs 4,000 yuan for an electric bike to work with: auto-approved under TQ5 (cap 5,000)"),
    person(3, "Emily Chen", "software engineer", "A", "2021-05-10", 10000, 2500,
           note="cap 20,000; 8,000 needs approval (TQ5 amount > 5,000)"),
    person(4, "王芳", "nurse", "C", "2022-08-15", 3000, 500, note="tier C: allowed purposes need approval"),
    person(5, "刘洋", "sales", "D", "2020-01-20", 5000, 1000, note="tier D: always denied (TQ1)"),
    person(6, "James Wilson", "teacher", "A", "2021-02-01", 8000, 0, status="frozen", note="frozen (TQ1)"),
    person(7, "陈静", "tour guide", "B", "2023-07-07", 4000, 100, kyc=False, note="KYC not verified (TQ1)"),
    person(8, "杨磊", "AI trainer", "A", "2026-09-01", 3000, 0, note="account 83 days old on 2026-11-23 (TQ1)"),
    person(9, "赵敏", "nail technician", "B", "2025-08-25", 3000, 0,
           note="opened 2025-08-25: exactly 90 days old on 2025-11-23"),
    person(10, "Maria Garcia", "freelance designer", "A", "2022-01-01", 0, 0, note="base limit 0: cap 5,000"),
    person(11, "黄强", "courier", "A", "2022-03-03", 2500, 300, note="base limit 2,500: cap 5,000"),
    person(12, "周杰", "engineer", "A", "2020-06-06", 15000, 5000, note="base limit 15,000: cap 20,000"),
    person(13, "吴霞", "cook", "B", "2023-01-01", 6000, 1000,
           quotas=[(2000, "household", "2026-09-01", "2026-09-30")], note="expired quota: no longer counts"),
    person(14, "David Brown", "driver", "B", "2022-11-11", 5000, 4800,
           records=[("R1", "Example Consumer Finance", "consumer_loan", 1200.00, "2024-02-01", None)],
           note="unrepaid overdue: TQ1 denied; repair eligible if repaid by 2026-03-31 (before that date)"),
    person(15, "孙丽", "accountant", "A", "2019-05-01", 20000, 3000,
           records=[("R1", "某银行", "credit_card", 3000.00, "2019-12-31", "2020-06-01")],
           note="overdue since 2019-12-31: outside the R1 window"),
    person(16, "Sarah Johnson", "marketing", "B", "2020-10-10", 12000, 0,
           records=[("R1", "Example Bank", "credit_card", 5000.00, "2020-01-01", "2025-11-30")],
           note="first day of the R1 window; repaid 2025-11-30: hidden from 2026-01-01"),
    person(17, "马超", "shop owner", "B", "2020-05-05", 9000, 1000,
           records=[("R1", "某小贷公司", "business_loan", 7000.00, "2025-12-31", "2025-12-01")],
           note="last day of the R1 window; repaid 2025-12-01: hidden from the repayment date"),
    person(18, "胡月", "student", "B", "2023-09-01", 2000, 0,
           records=[("R1", "花呗", "credit_line", 600.00, "2026-01-01", "2026-02-01")],
           note="overdue since 2026-01-01: after the R1 window"),
    person(19, "Michael Lee", "chef", "A", "2019-01-01", 10000, 0,
           records=[("R1", "Example Bank", "consumer_loan", 10000.00, "2022-04-01", "2026-03-31")],
           note="exactly 10,000.00 and repaid on the deadline: eligible, hidden from 2026-03-31"),
    person(20, "郭婷", "clerk", "B", "2021-01-01", 5000, 0,
           records=[("R1", "某银行", "consumer_loan", 10000.01, "2022-04-01", "2025-06-01")],
           note="10,000.01: over the R2 amount"),
    person(21, "林峰", "mechanic", "C", "2020-02-02", 6000, 0,
           records=[("R1", "某消费金融公司", "cash_loan", 4000.00, "2023-06-01", "2026-04-01")],
           note="repaid 2026-04-01: one day late (R3); ordinary 5-year rule"),
    person(22, "何琳", "designer", "A", "2020-03-03", 10000, 0,
           records=[("R1", "借呗", "credit_line", 2000.00, "2021-03-01", "2022-01-10"),
                    ("R2", "某银行", "housing_loan", 50000.00, "2022-05-01", "2023-01-01"),
                    ("R3", "某银行", "credit_card", 900.00, "2018-05-01", "2018-09-01")],
           note="three records: one eligible, one over R2, one before R1: partially eligible"),
    person(23, "Olivia Zhang", "nurse", "A", "2021-07-01", 7000, 500, note="no overdue records"),
    person(24, "罗刚", "farmer", "B", "2021-04-04", 3000, 0,
           records=[("R1", "某农商行", "business_loan", 15000.00, "2021-05-01", "2022-05-01"),
                    ("R2", "某银行", "credit_card", 12000.00, "2019-03-01", "2019-08-01")],
           note="all records ineligible"),
    person(25, "梁雪", "delivery rider", "A", "2022-06-06", 3500, 1000,
           records=[("R1", "花呗", "credit_line", 300.00, "2022-02-02", "2022-03-02"),
                    ("R2", "借呗", "credit_line", 1500.00, "2024-08-08", "2025-12-20")],
           note="two eligible records, different hidden-from dates"),
    person(26, "Daniel Kim", "musician", "B", "2023-03-03", 1000, 0),
    person(27, "宋佳", "teacher", "A", "2020-09-09", 25000, 0, note="base limit 25,000: cap 20,000"),
    person(28, "Sophia Wang", "pharmacist", "C", "2021-12-12", 9000, 2000,
           records=[("R1", "Example Bank", "credit_card", 2500.00, "2025-03-01", "2026-01-15")],
           note="tier C; repair eligible, hidden from 2026-01-15"),
    person(29, "唐亮", "warehouse worker", "B", "2024-04-04", 2200, 2200),
    person(30, "韩梅", "hairdresser", "A", "2020-12-12", 4000, 0,
           quotas=[(5000, "medical", "2026-11-23", "2026-12-22")],
           note="quota granted 2026-11-23, valid to 2026-12-22 inclusive"),
    person(31, "冯晨", "programmer", "A", "2021-01-15", 12000, 0,
           quotas=[(3000, "education", "2026-10-25", "2026-11-23")],
           note="quota expires 2026-11-23: in force that day, gone on 2026-11-24"),
    person(32, "William Taylor", "consultant", "B", "2022-02-22", 8000, 6000, status="closed", note="closed account"),
    person(33, "曹颖", "nurse", "B", "2023-05-05", 3000, 0,
           records=[("R1", "某银行", "credit_card", 9999.99, "2020-01-01", "2020-12-31")]),
    person(34, "邓辉", "taxi driver", "A", "2020-07-07", 6000, 2000,
           records=[("R1", "某消费金融公司", "consumer_loan", 3000.00, "2025-07-01", None)],
           note="unrepaid: eligible if repaid by 2026-03-31 (when asked before that date)"),
    person(35, "Emma Davis", "student", "B", "2024-09-01", 1500, 0),
    person(36, "许强", "electrician", "B", "2021-08-08", 4500, 500),
    person(37, "彭丽", "nanny", "A", "2022-10-01", 2800, 0),
    person(38, "Lucas Martin", "photographer", "A", "2020-04-04", 9000, 0),
    person(39, "谢敏", "online shop owner", "C", "2023-02-02", 7500, 1000),
    person(40, "蒋涛", "construction worker", "B", "2024-01-10", 1800, 300,
           records=[("R1", "借呗", "credit_line", 700.00, "2023-11-11", "2024-01-05")]),
    person(41, "Grace Liu", "lab technician", "A", "2021-06-30", 5000, 0),
    person(42, "钱进", "tester", "B", "2022-12-01", 3000, 0),
    person(43, "Henry Zhou", "delivery rider", "B", "2025-01-05", 2000, 100),
    person(44, "欧阳娜娜", "cellist", "A", "2020-08-08", 16000, 4000),
    person(45, "Chloe Wu", "dental assistant", "C", "2023-10-10", 2000, 0),
]

OUT.write_text(json.dumps({"customers": C}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {len(C)} customers to {OUT}")
