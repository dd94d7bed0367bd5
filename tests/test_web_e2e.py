"""The web console end to end in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium; nothing is downloaded): sign in, ask, see the answer with its citations, approve as a supervisor."""
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

D = "2026-11-23"
KEYS = {"e2e-op": ("olivia", "operator"), "e2e-sup": ("sam", "supervisor")}



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from agents import Desk
    from agents.audit import AuditLog
    from console.service import create_app
    from knowledge import default_kb
    from tools import Ledger
    from tools.ledger import SAMPLE_LEDGER

    tmp = tmp_path_factory.mktemp("e2e")
    desk = Desk(Ledger.from_file(SAMPLE_LEDGER, url=f"sqlite:///{tmp / 'ledger.sqlite3'}"), default_kb(),
                audit=AuditLog(f"sqlite:///{tmp / 'audit.sqlite3'}"), threads_path=tmp / "threads.sqlite3")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(desk, KEYS), host="127.0.0.1", port=port, log_level="warning"))
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
                 "--disable-dev-shm-usage", "--window-size=1400,900", "--lang=en-US",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_operator_asks_and_supervisor_approves(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    base, desk = server
    d = browser
    wait = WebDriverWait(d, 20)
    shots = Path(os.environ.get("RISKDESK_E2E_SHOTS", tmp_path))

    def sign_in(key):
        d.get(base + "/")
        box = wait.until(EC.visibility_of_element_located((By.ID, "apikey")))
        box.clear()
        box.send_keys(key, Keys.ENTER)
        wait.until(EC.visibility_of_element_located((By.ID, "app")))

    def ask(text):
        n = len(d.find_elements(By.CSS_SELECTOR, ".msg.bot.clickable"))
        d.execute_script(f"document.getElementById('as-of').value = '{D}'")
        box = d.find_element(By.ID, "message")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        wait.until(lambda _: len(d.find_elements(By.CSS_SELECTOR, ".msg.bot.clickable")) > n)
        return d.find_elements(By.CSS_SELECTOR, ".msg.bot.clickable")[-1]

    # a bad key is refused on the sign-in page
    d.get(base + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "apikey"))).send_keys("wrong", Keys.ENTER)
    wait.until(EC.text_to_be_present_in_element((By.ID, "signin-error"), "Unknown API key"))

    # operator: an auto-approved quota, streamed, with its citations and guard verdict in the side panel
    sign_in("e2e-op")
    assert "olivia" in d.find_element(By.ID, "who").text
    answer = ask("给C1002申请4000元临时额度，买电动车送外卖")
    assert "¥4,000" in answer.text and "2026-12-22" in answer.text
    wait.until(EC.visibility_of_element_located((By.ID, "details-body")))
    assert "LENDER-TQ-TQ5" in d.find_element(By.ID, "citations").text
    assert "Grounded" in d.find_element(By.ID, "guard").text
    assert "temp_quota" in d.find_element(By.ID, "tools").text
    clause = d.find_element(By.CSS_SELECTOR, '.citation[data-clause="LENDER-TQ-TQ5"]')
    clause.find_element(By.CSS_SELECTOR, "button.clause").click()
    text = clause.find_element(By.CSS_SELECTOR, ".clause-text")
    assert text.is_displayed() and "5,000" in text.text               # the clause's own text
    d.save_screenshot(str(shots / "console-operator.png"))

    # the thread is remembered in the side list
    assert len(d.find_elements(By.CSS_SELECTOR, "#threads .thread")) == 1

    # a quota that needs a supervisor
    pending = ask("C1003 temp quota 8000 for a laptop for work")
    assert "approval" in pending.text.lower()
    [ap] = [a.approval_id for a in desk.pending_approvals()]
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'.approval[data-approval="{ap}"]')))
    assert not d.find_elements(By.CSS_SELECTOR, ".approval .approve")  # operators see it, cannot decide

    # the language toggle switches the chrome
    d.find_element(By.ID, "lang").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "send"), "发送"))
    d.find_element(By.ID, "lang").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "send"), "Send"))

    # supervisor: approve it from the pending list
    d.find_element(By.ID, "signout").click()
    sign_in("e2e-sup")
    item = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, f'.approval[data-approval="{ap}"]')))
    d.execute_script(f"document.getElementById('as-of').value = '{D}'")
    item.find_element(By.CSS_SELECTOR, "button.approve").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "messages"), "approved by sam"))
    wait.until(lambda _: not d.find_elements(By.CSS_SELECTOR, f'.approval[data-approval="{ap}"]'))
    d.save_screenshot(str(shots / "console-supervisor.png"))
    [g] = desk.ledger.customer("C1003").temp_quotas
    assert g.amount == 8000 and str(g.expires_on) == "2026-12-22"
    assert desk.pending_approvals() == []

    # a new tab (nothing in sessionStorage): the operator's thread comes back from GET /v1/threads, with its
    # three turns (the supervisor's approval resumed it)
    d.find_element(By.ID, "signout").click()
    d.execute_script("sessionStorage.clear()")
    sign_in("e2e-op")
    item = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#threads .thread")))
    assert "3 turns" in item.text and len(d.find_elements(By.CSS_SELECTOR, "#threads .thread")) == 1
    item.click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "messages"), "C1003 temp quota 8000"))
