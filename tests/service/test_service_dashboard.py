"""The dashboard page: a finished job's energy, emissions and hand-checked savings, the totals
of the ledger, a planned window drawn where the plan says, escaping, access, and the page
rendered by a real headless Chromium (the planned window's colour is on the screenshot)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib import image
from service.helpers_accounting import H, accounting_zone, run_one_job
from service.helpers_service import T0, add_job, http_server, manual_service

from carbonshift.service.daemon import Service
from carbonshift.service.dashboard import CHART_W, PAD_L
from carbonshift.service.lifecycle import State

NAME = "<b>x</b>&"


def _service(tmp_path: Path, **settings: object) -> tuple[Service, int, int]:
    """One job run and accounted at the 06:00 dip; one more planned for the next day's dip."""
    service, clock = manual_service(tmp_path, [accounting_zone(tmp_path)], **settings)  # type: ignore[arg-type]
    done = run_one_job(service, clock, ("sleep", "0.3"))
    clock.set(T0 + timedelta(hours=7))  # today's dip has passed
    later = add_job(service, deadline_in_s=26 * H, name=NAME)
    service.loop.tick(replan=True)
    planned = service.store.get_job(later)
    assert planned is not None and planned.state is State.PLANNED
    assert planned.planned_start_s == clock.now().timestamp() + 23 * H  # tomorrow's 06:00
    return service, done, later


def _row(page: str, job_id: int) -> str:
    found = re.search(rf'<tr id="job-{job_id}">(.*?)</tr>', page)
    assert found, f"no row for job {job_id}"
    return found.group(1)


def test_dashboard_shows_jobs_savings_totals_and_planned_windows(tmp_path: Path) -> None:
    service, done, later = _service(tmp_path)
    try:
        with http_server(service.app()) as srv:
            r = httpx.get(srv.url + "/dashboard", params={"refresh": 0})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            page = r.text
            assert 'http-equiv="refresh"' not in page
            assert 'content="30"' in httpx.get(srv.url + "/dashboard").text
            root = httpx.get(srv.url + "/", follow_redirects=False)
            assert root.status_code in (302, 307) and root.headers["location"] == "/dashboard"
            assert httpx.get(srv.url + "/dashboard", params={"refresh": -1}).status_code == 422
            # the links lead to the API's records of the job and the zone
            link = re.search(rf'<tr id="job-{done}"><td><a href="([^"]+)">', page)
            assert link and httpx.get(srv.url + link.group(1)).json()["id"] == done
            zone = re.search(r'<b><a href="([^"]+)">XX</a></b>', page)
            assert zone and httpx.get(srv.url + zone.group(1)).json()["zone"] == "XX"
    finally:
        service.close()
    status, summary = service.store.account(done) or ("", {})
    assert status == "final"
    # the finished job: its measured energy, and savings checked by hand (ran at 50 g; 400 g
    # at submission, 200 g at the 03:00 static slot)
    row = _row(page, done)
    assert "succeeded" in row and f"{summary['energy_kwh']:.6g}" in row
    assert "(+87.5 %)" in row and "(+75.0 %)" in row and "final" in row
    # the totals: the ledger's figures for the zone
    totals = page.split("<h2>What the finished jobs used, emitted and saved</h2>")[1]
    totals = totals.split("<h2>")[0]
    assert "<td>XX</td><td class=n>1</td>" in totals
    assert f"{summary['energy_kwh']:.6g}" in totals and "(+87.5 %)" in totals
    # the planned job: escaped name, its window drawn over tomorrow 06:00-07:00
    later_row = _row(page, later)
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in later_row and NAME not in page
    assert "planned" in later_row and "2026-03-03T06:00Z .. 2026-03-03T07:00Z" in later_row
    rect = re.search(
        rf'<rect class="window planned" x="([\d.]+)" y="6" width="([\d.]+)" height="[\d.]+">'
        rf"<title>job {later} \(planned\): 2026-03-03T06:00Z \.\. 2026-03-03T07:00Z</title>",
        page,
    )
    assert rect, "the planned window is not drawn"
    path = re.search(r'<path class="intensity" d="([^"]+)"/>', page)
    assert path
    steps = re.findall(r"[ML]([\d.]+),([\d.]+)L([\d.]+),\2", path.group(1))
    # one horizontal segment per hourly step; the window spans exactly one step's width
    plot_w = CHART_W - PAD_L - 4
    assert float(rect.group(2)) == pytest.approx(plot_w / len(steps), abs=0.11)
    window_x = float(rect.group(1))
    # ... and sits on the step whose value is the 06:00 dip (the lowest on the chart)
    lowest = max(steps, key=lambda s: float(s[1]))  # largest y = smallest value
    starts = [float(s[0]) for s in steps if s[1] == lowest[1]]
    assert any(abs(x - window_x) < 0.11 for x in starts)
    assert "forecast fresh" in page and "static slot <code>0 3 * * *</code>" in page


def test_dashboard_needs_the_token_when_one_is_set(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [accounting_zone(tmp_path)])
    service.token = "a-long-enough-token-1234"
    try:
        with http_server(service.app()) as srv:
            assert httpx.get(srv.url + "/dashboard").status_code == 401
            ok = httpx.get(
                srv.url + "/dashboard", headers={"Authorization": f"Bearer {service.token}"}
            )
            assert ok.status_code == 200 and "no jobs yet" in ok.text
    finally:
        service.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium not found: apt-get install chromium (.ci/run does)", pytrace=False)
    return path


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
    ]
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=90, check=True
    )


def test_a_real_browser_renders_the_page_and_the_planned_window(
    tmp_path: Path, chromium: str
) -> None:
    service, done, later = _service(tmp_path)
    shot = tmp_path / "dashboard.png"
    try:
        with http_server(service.app()) as srv:
            url = srv.url + "/dashboard?refresh=0"
            dom = _chromium(chromium, "--dump-dom", url).stdout
            _chromium(chromium, f"--screenshot={shot}", "--window-size=1000,1000", url)
    finally:
        service.close()
    assert f'id="job-{done}"' in dom and f'id="job-{later}"' in dom
    assert "<svg" in dom and 'class="window planned"' in dom
    pixels = image.imread(shot)[..., :3]  # floats in [0, 1]
    assert pixels.shape[:2] == (1000, 1000)
    # the window's fill (#2da44e at 35 % over white) appears, as a block of at least a few
    # hundred pixels; the forecast line (#333) too
    fill = np.array([1 - 0.35 * (1 - c / 255) for c in (0x2D, 0xA4, 0x4E)])
    green = (np.abs(pixels - fill) < 0.04).all(axis=2)
    assert green.sum() > 300, green.sum()
    dark = (pixels < 0.3).all(axis=2)
    assert dark.sum() > 200


def test_an_empty_service_says_so_under_its_clock(tmp_path: Path) -> None:
    service, _ = manual_service(tmp_path, [accounting_zone(tmp_path)], measure=False)
    try:
        with http_server(service.app()) as srv:
            page = httpx.get(srv.url + "/dashboard").text
    finally:
        service.close()
    assert "2026-03-02T00:00Z" in page and "manual clock" in page
    assert '<span id="counts">none</span>' in page and "no jobs yet" in page
    assert "energy is not measured (service.measure is off)" in page
