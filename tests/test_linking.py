"""Customers are whatever the ledger holds: linking by index, in any id format, case and width."""
import pytest

from agents.linking import CustomerLinker, fold, id_like
from tests.factories import customer, ledger_with

IDS = ["4402198812", "77015", "CUS-004417", "ZX2024-0917", "m_20931", "Acct7781q", "kh.0042"]


@pytest.fixture(scope="module")
def linker():
    return CustomerLinker(ledger_with(*(customer(cid) for cid in IDS)))


@pytest.mark.parametrize("cid", IDS)
@pytest.mark.parametrize("template", [
    "查一下{}的额度", "客户号{}还有多少可用额度", "What's {}'s available credit?", "acct {} limit pls",
    "customer no. {}: temp quota 3000 for a fridge", "给{}申请四千临额", "{}", "用户ID：{}，能做信用修复吗",
])
def test_every_format_links_wherever_it_is_written(linker, cid, template):
    for written in {cid, cid.lower(), cid.upper(), _fullwidth(cid)}:
        got = [m.customer_id for m in linker.link(template.format(written)) if m.customer_id]
        assert got == [cid], (template, written, got)


def test_an_id_like_token_the_ledger_lacks_is_reported_unlinked(linker):
    for msg, token in [("查一下CUS-999999的额度", "CUS-999999"), ("acct 55555 limit?", "55555"),
                       ("What's zx2031-0001's limit", "zx2031-0001"), ("客户号 8800112233 额度", "8800112233")]:
        ms = linker.link(msg)
        assert [(m.token, m.customer_id) for m in ms] == [(token, None)], (msg, ms)


def test_amounts_dates_and_rule_ids_are_not_customers(linker):
    for msg in ["临时额度4000元", "temp quota 4k for a laptop", "as of 2026-01-15", "TQ3 and R2 and LENDER-TQ-TQ5",
                "RMB 3,500.00", "30 days", "15/01/2026", "1.2w"]:
        assert linker.link(msg) == [], msg


def test_two_customers_in_one_message_are_both_found(linker):
    assert [m.customer_id for m in linker.link("77015 和 m_20931 哪个额度高")] == ["77015", "m_20931"]


def test_id_like_needs_digits_and_structure():
    assert id_like("CUS-0001", False) and id_like("123456789", False) and id_like("4402", True)
    assert not id_like("4000", False) and not id_like("TQ5", True) and not id_like("4k", False)
    assert not id_like("hello", True)


def test_fold_keeps_offsets():
    s = "给ＣＵＳ－００４４１７申请"
    assert len(fold(s)) == len(s) and fold(s) == "给CUS-004417申请"


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def test_fold_is_nfkc_one_character_for_one():
    """fold's fast paths (ASCII returned as is, one cached NFKC per character) give the definition's result."""
    import unicodedata

    from hypothesis import given, settings, strategies as st

    from agents.linking import fold

    def definition(s: str) -> str:
        out = [n if len(n := unicodedata.normalize("NFKC", ch)) == 1 else ch for ch in s]
        return "".join(out).replace("－", "-").replace("—", "-").replace("＿", "_")

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFFEF, blacklist_categories=("Cs",))))
    def check(s: str) -> None:
        assert fold(s) == definition(s)
        assert len(fold(s)) == len(s)

    check()
    assert fold("ＣＵＳ－００４４１７") == "CUS-004417" and fold("plain C1001") == "plain C1001"
