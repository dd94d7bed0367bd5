"""Documents of every supported type, written locally for the tests (nothing downloaded): a DOCX by
python-docx, PDFs by pypdf (a text page with a standard font, an encrypted copy, an image-only page),
HTML, Markdown without front matter and plain text."""
from __future__ import annotations

from pathlib import Path

POLICY_ZH = """小微信贷管理办法

第一章 总则
第一条 为规范小微企业信贷业务，制定本办法。
第二条 本办法适用于本行发放的小微企业流动资金贷款。
第二章 授信
第三条 单户授信总额不超过一千万元。
第四条 借款人须提供近两年的财务报表和纳税证明。
第五条 本办法自2026年3月1日起施行。
"""

POLICY_EN = [
    "Vehicle Loan Policy",
    "Article 1 Scope. This policy governs car loans to individuals for the purchase of new vehicles.",
    "Article 2 Down payment. The borrower pays at least 20 percent of the vehicle price as a down payment.",
    "Article 3 Term. The loan term is at most 60 months.",
    "This policy is effective from 1 April 2026.",
]


def write_docx(path: Path) -> Path:
    import docx
    d = docx.Document()
    d.core_properties.title = "抵押贷款操作规程 / Mortgage procedures"
    d.add_heading("抵押贷款操作规程", level=1)
    d.add_heading("1 评估", level=2)
    d.add_paragraph("抵押物须由两家独立评估机构估值，取较低者为准。")
    d.add_heading("2 抵押率", level=2)
    d.add_paragraph("住房抵押贷款的抵押率不得超过评估价值的七成。")
    d.add_heading("3 保险", level=2)
    d.add_paragraph("借款人须为抵押房产投保财产险，第一受益人为本行。")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "房产类型", "最高抵押率"
    table.cell(1, 0).text, table.cell(1, 1).text = "商铺", "五成"
    d.add_paragraph("本规程自2026年2月1日起施行。")
    d.save(str(path))
    return path


def _pdf_page(writer, lines: list[str]):  # noqa: ANN001, ANN202
    from pypdf.generic import ContentStream, DictionaryObject, NameObject
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
        {NameObject("/F1"): writer._add_object(font)})})
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({esc}) Tj T*")
    ops.append("ET")
    stream = ContentStream(None, None)
    stream.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    return page


def write_pdf(path: Path, lines: list[str] = POLICY_EN, password: str | None = None) -> Path:
    from pypdf import PdfWriter
    w = PdfWriter()
    _pdf_page(w, lines)
    w.add_metadata({"/Title": lines[0]})
    if password:
        w.encrypt(user_password=password, owner_password=password, algorithm="AES-128")
    with open(path, "wb") as f:
        w.write(f)
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A page with an image only (as a scanner makes): no text layer."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DictionaryObject, NameObject, NumberObject, StreamObject
    w = PdfWriter()
    page = w.add_blank_page(width=200, height=200)
    img = StreamObject()
    img._data = bytes([128]) * (8 * 8)
    img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(8), NameObject("/Height"): NumberObject(8),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"), NameObject("/BitsPerComponent"): NumberObject(8)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/Im1"): w._add_object(img)})})
    stream = ContentStream(None, None)
    stream.set_data(b"q 200 0 0 200 0 0 cm /Im1 Do Q")
    page[NameObject("/Contents")] = w._add_object(stream)
    with open(path, "wb") as f:
        w.write(f)
    return path


HTML = """<!doctype html><html><head><title>Collections handbook</title>
<meta name="effective-from" content="2026-05-01"><style>p{color:red}</style><script>var x=1;</script></head>
<body><nav>Home | Policies</nav><h1>Collections handbook</h1>
<h2>Contact hours</h2><p>Collectors may call customers only between 8:00 and 21:00 local time.</p>
<h2>Third parties</h2><p>Collectors must not disclose the debt to the customer's employer, family or friends.</p>
<h2>Records</h2><ul><li>Every call is recorded.</li><li>Recordings are kept for two years.</li></ul>
<footer>© Sample lender</footer></body></html>"""

MARKDOWN = """# 贷后管理指引

## 1. 回访

放款后三十日内须完成首次回访。

## 2. 资金用途检查

### 2.1 抽查比例

每季度抽查不少于百分之十的贷款资金用途。

### 2.2 违规处理

发现挪用贷款资金的，提前收回贷款。
"""

TEXT = """Overdraft rules

Section 1 Limit
The overdraft limit is set at account opening and reviewed yearly.

Section 2 Fees
An overdraft fee is charged daily on the balance used.
"""


def write_all(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "small_business.txt").write_text(POLICY_ZH, encoding="utf-8")
    (directory / "collections.html").write_text(HTML, encoding="utf-8")
    (directory / "post_loan.md").write_text(MARKDOWN, encoding="utf-8")
    (directory / "overdraft.txt").write_text(TEXT, encoding="utf-8")
    return {"docx": write_docx(directory / "mortgage.docx"), "pdf": write_pdf(directory / "vehicle_loans.pdf"),
            "html": directory / "collections.html", "md": directory / "post_loan.md",
            "txt": directory / "small_business.txt", "txt_en": directory / "overdraft.txt"}
