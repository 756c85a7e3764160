"""In a real browser: the strict Content-Security-Policy breaks neither the IB admin nor
its second-factor pages. Chromium reports every blocked script, style, image or form
action on the console ("Refused to ... because it violates the following Content
Security Policy directive"), and as a ``securitypolicyviolation`` event; both are
collected and must stay empty."""

from __future__ import annotations

from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from msdportaal.conftest import restore_reference_data
from msdportaal.organisations.models import Municipality, User

pytestmark = [pytest.mark.browser]

PASSWORD = "een-lang-beheerwachtwoord"

# Runs before any page script; the listener is added from outside the page, so the policy
# under test does not apply to it.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${event.documentURI}`
  );
});
"""


class CspWatch:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.events: list[str] = []
        self.pages: list[str] = []
        page.add_init_script(COLLECT_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(message.text)

    def visit(self, what: str) -> None:
        """Call after each page load: keeps the page's violation events."""
        self.page.wait_for_load_state("load")
        self.pages.append(f"{what}: {self.page.url}")
        self.events.extend(self.page.evaluate("window.__cspViolations"))

    def assert_clean(self) -> None:
        assert not self.console, "CSP violations on the console:\n" + "\n".join(self.console)
        assert not self.events, "CSP violation events:\n" + "\n".join(self.events)


@pytest.fixture
def admin_browser(browser: Any, live_server: Any, transactional_db: None) -> Any:
    restore_reference_data()
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page, CspWatch(page), live_server.url
    context.close()


def _password_step(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/beheer/login/")
    page.locator("input[name='auth-username']").fill(username)
    page.locator("input[name='auth-password']").fill(PASSWORD)
    page.locator("input[name='auth-password']").press("Enter")
    page.wait_for_load_state("load")


def test_admin_login_with_totp_and_admin_pages_have_no_csp_violations(admin_browser):
    page, watch, base = admin_browser
    admin = User.objects.create_superuser("ib-beheerder", "beheer@ib.nl", PASSWORD)
    device = TOTPDevice.objects.create(user=admin, name="default", confirmed=True)

    response = page.goto(f"{base}/beheer/login/")
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "script-src 'self'" in csp
    watch.visit("admin login")

    _password_step(page, base, "ib-beheerder")
    watch.visit("token step")
    token = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.locator("input[name='token-otp_token']").fill(f"{token:06d}")
    page.locator("input[name='token-otp_token']").press("Enter")
    page.wait_for_url(f"{base}/beheer/")
    watch.visit("admin index")
    assert "Gemeenten" in page.content()

    # A list with filters and search, a change form with the admin's widgets and its
    # JavaScript (date shortcuts, related-object links), the audit trail, the 2FA account
    # page with its backup tokens.
    amsterdam = Municipality.objects.get(code="0363")
    for what, path in (
        ("changelist", "/beheer/organisations/municipality/?q=Amst"),
        ("change form", f"/beheer/organisations/municipality/{amsterdam.pk}/change/"),
        ("user add form", "/beheer/organisations/user/add/"),
        ("periods", "/beheer/periods/reportingperiod/"),
        ("audit trail", "/beheer/audit/auditentry/"),
        ("2FA account", "/beheer/mfa/"),
        ("backup tokens", "/beheer/mfa/backup/tokens/"),
    ):
        response = page.goto(base + path)
        assert response.status == 200, (what, response.status)
        watch.visit(what)

    # The date widget's calendar and clock are built by admin JavaScript at run time.
    page.goto(f"{base}/beheer/organisations/municipality/{amsterdam.pk}/change/")
    watch.visit("change form again")
    calendar_link = page.locator(".datetimeshortcuts a").first
    if calendar_link.count():
        calendar_link.click()
        watch.visit("calendar opened")

    watch.assert_clean()


def test_totp_setup_with_qr_code_has_no_csp_violations(admin_browser):
    page, watch, base = admin_browser
    User.objects.create_superuser("nieuwe-beheerder", "nieuw@ib.nl", PASSWORD)

    _password_step(page, base, "nieuwe-beheerder")
    # No device yet: maykin-2fa sends the administrator to set one up.
    page.wait_for_url("**/beheer/mfa/setup/**")
    watch.visit("setup welcome")
    page.locator("button[type='submit'], input[type='submit']").last.click()
    page.wait_for_load_state("load")
    watch.visit("setup method")
    method = page.locator("input[name='method-method'][value='generator']")
    if method.count():
        method.check()
        page.locator("button[type='submit'], input[type='submit']").last.click()
        page.wait_for_load_state("load")
        watch.visit("setup generator")
    qr = page.locator("img.totp-qr-code")
    assert qr.count() == 1
    # The QR code is an image from our own origin and actually loads.
    assert page.evaluate("document.querySelector('img.totp-qr-code').naturalWidth") > 0
    watch.assert_clean()


def test_lockout_page_passes_axe_and_csp(browser_page):
    """The lockout page is a portal page: axe, and no CSP violations either."""
    User.objects.create_superuser("ib-beheerder", "beheer@ib.nl", PASSWORD)
    page = browser_page.page
    watch = CspWatch(page)
    # The attempts on the admin's own login form (Django's, not checked with axe here);
    # the fifth answer is the portal's lockout page, on the same URL.
    for _attempt in range(5):
        page.goto(browser_page.base_url + "/beheer/login/")
        page.locator("input[name='auth-username']").fill("ib-beheerder")
        page.locator("input[name='auth-password']").fill("fout-wachtwoord")
        page.locator("input[name='auth-password']").press("Enter")
        page.wait_for_load_state("load")
    browser_page.axe()
    assert page.get_by_role("heading", level=1).inner_text() == "Te veel mislukte inlogpogingen"
    assert "Probeer het over 30 minuten opnieuw." in page.content()
    watch.visit("lockout")
    watch.assert_clean()
