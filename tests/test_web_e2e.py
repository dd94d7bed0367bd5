"""The web console end to end in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium; nothing is downloaded), at desktop (1400x900) and phone (390x844) sizes, in Chinese and English:
asking, a follow-up, the customer card, the approval round trip with two different users, reopening a
thread, a reload, server-down recovery, and axe-core (vendored under tests/assets, served from loopback)
with no serious or critical violation. Screenshots go to out/screens/ (RISKDESK_E2E_SHOTS overrides)."""
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from factories import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM),
    reason="needs chromium + chromedriver (apt-get install chromium chromium-driver) and selenium (pip install -e .[test])")

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "assets" / "axe.min.js"
SHOTS = Path(os.environ.get("RISKDESK_E2E_SHOTS", ROOT / "out" / "screens"))
D = "2026-11-23"
KEYS = {"e2e-op": ("olivia", "operator"), "e2e-sup": ("sam", "supervisor"), "e2e-sup2": ("sue", "supervisor")}
SIZES = {"desktop": (1400, 900), "phone": (390, 844)}
TEXT = {"zh": {"send": "发送", "grounded": "已核验", "approved": "已批准", "needs": "需审批", "why": "为什么？",
               "ask": "给C1002申请4000元临时额度，买电动车送外卖", "pending": "C1003申请8000元临时额度，买笔记本电脑工作用",
               "card": "客户卡片", "offline": "无法连接服务器", "rejected": "驳回理由"},
        "en": {"send": "Send", "grounded": "Grounded", "approved": "approved", "needs": "needs approval", "why": "why?",
               "ask": "C1002 temp quota 4000 for an e-bike to deliver food",
               "pending": "C1003 temp quota 8000 for a laptop for work", "card": "Customer card",
               "offline": "Cannot reach the server", "rejected": "Reason given"}}


@pytest.fixture(scope="module")
def e2e_kb():
    from knowledge import default_kb
    return default_kb()


@pytest.fixture
def server(e2e_kb, tmp_path):
    """A fresh desk (its own ledger, audit log and threads) per test, served on loopback."""
    import uvicorn
    from starlette.staticfiles import StaticFiles

    from agents import Desk
    from agents.audit import AuditLog
    from console.service import create_app
    from tools import Ledger
    from tools.ledger import SAMPLE_LEDGER

    tmp = tmp_path
    desk = Desk(Ledger.from_file(SAMPLE_LEDGER, url=f"sqlite:///{tmp / 'ledger.sqlite3'}"), e2e_kb,
                audit=AuditLog(f"sqlite:///{tmp / 'audit.sqlite3'}"), threads_path=tmp / "threads.sqlite3")
    app = create_app(desk, KEYS, web=False)
    app.mount("/test-assets", StaticFiles(directory=AXE.parent), name="test-assets")  # axe-core, from loopback
    from console.service import WEB_DIR
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="console")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", desk
    srv.should_exit = True
    thread.join(10)
    desk.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900", "--lang=en-US", "--hide-scrollbars",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Console:
    """The console as a person uses it, through one browser."""

    def __init__(self, base, d, size, lang):
        from selenium.webdriver.support.ui import WebDriverWait
        self.base, self.d, self.size, self.lang = base, d, size, lang
        self.wait = WebDriverWait(d, 25)
        self.T = TEXT[lang]
        w, h = SIZES[size]
        d.set_window_size(w, h)
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the viewport exactly, whatever the window chrome
                          {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": size == "phone"})
        SHOTS.mkdir(parents=True, exist_ok=True)

    def by(self, css):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def one(self, css):
        self.wait.until(lambda _: self.by(css))
        return self.by(css)[0]

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def sign_in(self, key):
        from selenium.webdriver.common.keys import Keys
        self.d.get(self.base + "/")
        self.js("sessionStorage.clear(); sessionStorage.setItem('riskdesk.lang', arguments[0])", self.lang)
        self.d.get(self.base + "/")
        box = self.one("#apikey")
        box.send_keys(key, Keys.ENTER)
        self.wait.until(lambda _: self.js("return !document.getElementById('app').hidden"))
        self.wait.until(lambda _: self.one("#send").text == self.T["send"])

    def tab(self, name):
        if self.size == "phone":
            self.one(f'.tabs [data-tab="{name}"]').click()

    def ask(self, text):
        from selenium.webdriver.common.keys import Keys
        self.tab("chat")
        n = len(self.by(".msg.bot.clickable"))
        self.js(f"document.getElementById('as-of').value = '{D}'")
        box = self.one("#message")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        self.wait.until(lambda _: len(self.by(".msg.bot.clickable")) > n)
        return self.by(".msg.bot.clickable")[-1]

    def shot(self, name):
        self.d.save_screenshot(str(SHOTS / f"{name}-{self.size}-{self.lang}.png"))

    def axe(self):
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.js("return !!window.axe"):
            self.js("const s = document.createElement('script'); s.src = '/test-assets/axe.min.js'; document.head.append(s)")
            self.wait.until(lambda _: self.js("return !!window.axe"))
        self.d.set_script_timeout(60)
        res = self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
            "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))))")
        return [v for v in res if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("size,lang", [("desktop", "en"), ("phone", "zh"), ("desktop", "zh"), ("phone", "en")])
def test_operator_and_supervisor_round_trip(server, browser, size, lang):
    base, desk = server
    c = Console(base, browser, size, lang)
    T = c.T

    # operator: an auto-approved quota, streamed, with its badges, citations and the customer card
    c.sign_in("e2e-op")
    answer = c.ask(T["ask"])
    assert "¥4,000" in answer.text and T["approved"] in answer.text.lower()
    assert "outcomes." not in answer.text and "work_tools" not in answer.text   # no raw keys or codes
    c.tab("details")
    card = c.one("#card")
    c.wait.until(lambda _: card.is_displayed() and "C1002" in card.text)
    assert T["card"] in card.text and "¥" in card.text and len(c.by("#card .bar")) == 3
    assert "LENDER-TQ-TQ5" in c.one("#citations").text and T["grounded"] in c.one("#guard").text
    trace = c.one("#meta .trace").text
    assert len(trace) == 32                                                     # the full trace id, copyable
    assert desk.audit.get(trace) is not None and c.by("#meta button.copy")
    c.shot("answer")

    # a follow-up in the same thread
    follow = c.ask(T["why"])
    assert "TQ5" in follow.text
    # a request that needs a supervisor
    pending = c.ask(T["pending"])
    assert "AP-" in pending.text or "A-" in pending.text
    [ap] = [a.approval_id for a in desk.pending_approvals()]
    thread = c.js("return sessionStorage.getItem('riskdesk.open')")
    assert thread

    # a reload restores the open conversation, exactly as shown live (badges, citations with titles)
    c.d.refresh()
    c.wait.until(lambda _: len(c.by(".msg.bot.clickable")) == 3)
    assert len(c.by(".msg.bot .badges .badge")) >= 6
    c.by(".msg.bot.clickable")[0].click()
    c.tab("details")
    first = c.one('.citation[data-clause="LENDER-TQ-TQ5"] button.clause')
    assert "/" not in first.text and len(first.text) > len("LENDER-TQ-TQ5") + 1  # a title in one language
    first.click()
    assert "5,000" in c.one('.citation[data-clause="LENDER-TQ-TQ5"] .clause-text').text

    # supervisor sam: the inbox shows it live (SSE), with the requester's words; reject needs a reason
    c.sign_in("e2e-sup")
    c.tab("inbox")
    item = c.one(f'.approval[data-approval="{ap}"]')
    assert "olivia" in item.text and "C1003" in item.text and "TQ5" in item.text
    if size == "desktop":  # the keyboard: n selects the next pending approval, r opens its rejection
        from selenium.webdriver.common.action_chains import ActionChains
        c.js("document.activeElement.blur()")
        ActionChains(c.d).send_keys("n").perform()
        c.wait.until(lambda _: c.by(f'.approval.focused[data-approval="{ap}"]'))
        ActionChains(c.d).send_keys("r").perform()
    else:
        item.find_element("css selector", "button.reject").click()
    c.wait.until(lambda _: c.js("return document.getElementById('decide').open"))
    c.one("#decide-confirm").click()                                           # no reason: refused in the dialog
    c.wait.until(lambda _: c.one("#decide-error").text)
    assert desk.pending_approvals()                                             # nothing decided
    c.one("#decide-cancel").click()
    c.shot("inbox")
    # approve, confirmed; the decision lands in the operator's thread, not in whatever is open
    c.one(f'.approval[data-approval="{ap}"] button.approve').click()
    c.wait.until(lambda _: c.js("return document.getElementById('decide').open"))
    c.js(f"document.getElementById('as-of').value = '{D}'")
    c.one("#decide-confirm").click()
    c.wait.until(lambda _: not desk.pending_approvals())
    c.wait.until(lambda _: not c.by(f'.approval[data-approval="{ap}"]'))
    c.wait.until(lambda _: c.js("return sessionStorage.getItem('riskdesk.open')") == thread)
    c.tab("chat")
    c.wait.until(lambda _: "sam" in c.by(".msg.bot")[-1].text)
    [g] = [q for q in desk.ledger.customer("C1003").temp_quotas if str(q.granted_on) == D]
    assert g.amount == 8000
    c.shot("decided")

    # the operator reopens the thread from the list: four turns, the decision among them
    c.sign_in("e2e-op")
    c.tab("threads")
    row = c.one(f'#threads .thread[data-thread="{thread}"]')
    assert "C1002" in row.text or "C1003" in row.text
    row.click()
    c.wait.until(lambda _: len(c.by(".msg.bot.clickable")) == 4)
    assert c.by(".msg.bot.system")                                              # the decision, marked as such


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layout_and_accessibility(server, browser, size, lang):
    c = Console(server[0], browser, size, lang)
    c.sign_in("e2e-sup")
    c.ask(TEXT[lang]["ask"].replace("C1002", "C1001").replace("4000", "1000"))
    if size == "phone":
        # the chat comes first and fills the screen; threads, inbox and details sit behind tabs
        h = c.js("return document.getElementById('messages').getBoundingClientRect().height")
        assert h > 450, h
        assert not c.one("#panel-threads").is_displayed() and not c.one("#panel-details").is_displayed()
        for name in ("threads", "inbox", "details", "chat"):
            c.tab(name)
            assert c.one(f"#panel-{name}").is_displayed()
    # no header word wraps: every header control is one line high
    for css in (".brand", "#signout", "#lang", ".tabs [role=tab]"):
        for e in c.by(css):
            if e.is_displayed():
                assert e.size["height"] < 48, (css, e.size)
    # one scroll area at a time: the page itself never scrolls
    assert c.js("return document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    assert c.one("#message").get_attribute("aria-describedby") and c.by('label[for="message"]')
    c.shot("console")
    bad = c.axe()
    assert bad == [], bad
    if size == "desktop":  # dark mode follows the system setting, and keeps its contrast
        c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        try:
            bg = c.js("return getComputedStyle(document.body).backgroundColor")
            assert bg not in ("rgb(244, 246, 249)", "rgb(255, 255, 255)"), bg
            c.shot("dark")
            bad = c.axe()
            assert bad == [], bad
        finally:
            c.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    # the shortcut sheet
    c.js("document.activeElement.blur()")
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(c.d).send_keys("?").perform()
    c.wait.until(lambda _: c.js("return document.getElementById('shortcuts').open"))
    assert "Enter" in c.one("#shortcut-list").text
    c.one("#shortcuts-close").click()


def test_server_down_keeps_the_text_and_retries(server, browser):
    c = Console(server[0], browser, "desktop", "en")
    c.sign_in("e2e-op")
    c.d.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
    try:
        from selenium.webdriver.common.keys import Keys
        c.js(f"document.getElementById('as-of').value = '{D}'")
        box = c.one("#message")
        box.send_keys("What's C1001's available credit?", Keys.ENTER)
        err = c.one(".msg.bot.error")
        c.wait.until(lambda _: TEXT["en"]["offline"] in err.text)
        assert c.one("#message").get_attribute("value") == "What's C1001's available credit?"   # kept
        c.shot("offline")
        c.one("#message").send_keys(Keys.ENTER)           # Enter on the kept text retries that turn: no second one
        time.sleep(0.5)
        assert len(c.by(".msg.user")) == 1 and len(c.by(".msg.bot")) == 1
    finally:
        c.d.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
    c.wait.until(lambda _: c.by(".msg.bot.clickable"))                        # retried on its own
    assert "C1001" in c.by(".msg.bot.clickable")[-1].text
    assert c.one("#message").get_attribute("value") == ""
