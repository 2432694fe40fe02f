"""The photo-ID review page (pardus.monitoring.review) end to end.

A temporary SQLite registry holds two known leopards (each with a reference image of its left
flank) and a queue of unreviewed camera-trap images rendered from coat patterns; a fake matcher
ranks the two as candidates with known keypoint pairs. The server runs on a free port of
127.0.0.1.

* In a real headless Chromium (selenium 4 + chromedriver; skipped with the reason when
  /usr/bin/chromium or /usr/bin/chromedriver is missing, `make browser` installs them): the
  queue, the review page, that every figure decodes (naturalWidth > 0) and no error is logged,
  then confirm → ``confirmed`` decision by the reviewer and the next image; reject → a
  ``rejected`` decision, same image; new individual → a new individual; a missing file → a
  message, not a traceback.
* Over plain HTTP: forged posts (no token, wrong token, another site's Origin or Referer) are
  refused with 403 and write nothing; GET never writes; only registered ids are served (no
  path from a request reaches the file system, a registered non-image is not served); markup
  in a file name, a station code, an individual code or an EXIF field comes out escaped or not
  at all; the socket is bound to 127.0.0.1 by default; another Host is refused.
"""

from __future__ import annotations

import functools
import http.client
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from pardus.monitoring.registry import open_registry
from pardus.monitoring.review import Candidate, ReviewServer, crop_region, match_figure

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1400, 1100)
REVIEWER = "a.ivanova"
TZ = "Asia/Vladivostok"
SIZE = (420, 560)  # rendered photographs: height, width


# --------------------------------------------------------------------------------------------
# the survey: registry, photographs, fake matcher
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _photo(pattern_id: int, seed: int):
    """A rendered left-flank photograph (BGR) and MegaDetector-like box (fractions)."""
    from pardus.monitoring.coat import coat_pattern
    from pardus.monitoring.render import render_layers, sample_conditions

    cond = sample_conditions(np.random.default_rng(seed), "easy")
    out = render_layers(coat_pattern(pattern_id), "left", cond, SIZE)
    ys, xs = np.nonzero(out.body > 0.5)
    h, w = SIZE
    x0, x1 = max(0, xs.min() - 4), min(w, xs.max() + 5)
    y0, y1 = max(0, ys.min() - 4), min(h, ys.max() + 5)
    return out.image, (x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h), out.body


def _save_jpeg(img_bgr, path: Path, exif_text: str | None = None) -> None:
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(img_bgr[..., ::-1]))
    kw = {"quality": 90}
    if exif_text is not None:
        exif = im.getexif()
        exif[0x010E] = exif_text  # ImageDescription
        exif[0x010F] = exif_text  # Make
        kw["exif"] = exif.tobytes()
    im.save(path, "JPEG", **kw)


def _pairs(q_body, r_body, n=14, seed=0):
    """Keypoint pairs at the same relative places of two animals' bodies (pixels)."""
    rng = np.random.default_rng(seed)
    qy, qx = np.nonzero(q_body > 0.9)
    ry, rx = np.nonzero(r_body > 0.9)
    out = []
    for _ in range(n):
        u, v = rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.6)
        xq = qx.min() + u * (qx.max() - qx.min())
        yq = qy.min() + v * (qy.max() - qy.min())
        xr = rx.min() + u * (rx.max() - rx.min())
        yr = ry.min() + v * (ry.max() - ry.min())
        out.append((float(xq), float(yq), float(xr), float(yr)))
    return out


class FakeMatcher:
    """Ranks the known individuals for a query image with fixed scores and keypoint pairs;
    counts its calls."""

    def __init__(self, table):
        self.table = table  # image id -> list[Candidate]
        self.calls: list[int] = []

    def __call__(self, info):
        self.calls.append(info.id)
        return list(self.table.get(info.id, []))


def build_survey(folder: Path, *, nasty: bool = False) -> dict:
    """A registry in ``folder`` with two known leopards and an unreviewed queue; returns the
    ids, the registry path and the fake matcher. ``nasty``: add an image whose file name and
    EXIF carry markup, at a station whose code (written behind the API's back) is markup too,
    with a candidate whose code is markup."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = folder / "photos"
    photos.mkdir(exist_ok=True)
    db = folder / "registry.sqlite"
    reg = open_registry(db, timezone=TZ)
    try:
        for k, code in enumerate(("ST-01", "ST-02", "ST-03")):
            reg.add_station(code, 430_000 + 1500 * k, 4_780_000 + 900 * k)
        ids, body = {}, {}

        def add(name, pattern, seed, station, when, *, bbox=True, exif=None):
            img, box, b = _photo(pattern, seed)
            p = photos / name
            p.parent.mkdir(parents=True, exist_ok=True)
            _save_jpeg(img, p, exif)
            info = reg.add_image(p, when, station, width=SIZE[1], height=SIZE[0], side="left",
                                 bbox=box if bbox else None, confidence=0.93).image
            ids[name], body[info.id] = info.id, b
            return info

        r1 = add("ref-AL-0001.jpg", 11, 101, "ST-01", "2024-02-01 03:10:00")
        r2 = add("ref-AL-0002.jpg", 12, 102, "ST-02", "2024-02-03 22:40:00")
        reg.record_decision(r1, "new_individual", new_code="AL-0001", sex="female", by="setup")
        reg.record_decision(r2, "new_individual", new_code="AL-0002", by="setup")
        q1 = add("IMG_0101.JPG", 11, 201, "ST-02", "2024-03-05 04:12:09")
        q2 = add("IMG_0102.JPG", 13, 202, "ST-03", "2024-03-06 23:01:30", bbox=False)
        q3 = add("IMG_0103.JPG", 12, 203, "ST-01", "2024-03-07 01:44:00")
        table = {
            q1.id: [Candidate("AL-0001", "left", 0.912, 1, r1.id, _pairs(body[q1.id], body[r1.id], 18, 1)),
                    Candidate("AL-0002", "left", 0.204, 2, r2.id, _pairs(body[q1.id], body[r2.id], 3, 2))],
            q2.id: [Candidate("AL-0002", "left", 0.301, 1, r2.id, _pairs(body[q2.id], body[r2.id], 5, 3)),
                    Candidate("AL-0001", "left", 0.288, 2, r1.id, [])],
            q3.id: [Candidate("AL-0002", "left", 0.871, 1, r2.id, _pairs(body[q3.id], body[r2.id], 16, 4))],
        }
        out = {"db": db, "photos": photos, "ids": ids, "refs": (r1.id, r2.id), "queue": [q1.id, q2.id, q3.id]}
        if nasty:
            from sqlalchemy import update

            from pardus.monitoring.registry.models import Station

            reg.add_station("ST-X", 431_000, 4_781_000)
            with reg.session() as s:
                s.execute(update(Station).where(Station.code == "ST-X")
                          .values(code='<b onmouseover="alert(3)">ST-X</b>'))
            # a folder "<script>alert(1)<" holding "script>.jpg": the path ends in
            # <script>alert(1)</script>.jpg
            bad = add("<script>alert(1)</script>.jpg", 14, 204, '<b onmouseover="alert(3)">ST-X</b>',
                      "2024-03-08 02:00:00", exif="<script>alert(2)</script>")
            table[bad.id] = [Candidate('<img src=x onerror="alert(4)">', "left", 0.5, 1, r1.id,
                                       _pairs(body[bad.id], body[r1.id], 4, 5))]
            out["nasty"] = bad.id
            secret = photos / "secret.txt"
            secret.write_text("TOP-SECRET-CONTENT\n")
            out["text"] = reg.add_image(secret, "2024-03-09 02:00:00", "ST-01").image.id
            out["queue"] += [bad.id, out["text"]]
        out["matcher"] = FakeMatcher(table)
        return out
    finally:
        reg.close()


@pytest.fixture()
def survey(tmp_path):
    s = build_survey(tmp_path / "survey", nasty=True)
    reg = open_registry(s["db"], timezone=TZ)
    check = open_registry(s["db"], timezone=TZ)  # a second handle for the test's own reads
    server = ReviewServer(reg, s["matcher"], reviewer=REVIEWER).start()
    s.update(server=server, reg=check)
    try:
        yield s
    finally:
        server.stop()
        reg.close()
        check.close()


def request(server, method, path, *, body=None, headers=None):
    """(status, headers, body bytes) of one raw request (the path is sent exactly as given)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        h = {"Host": f"127.0.0.1:{port}"}
        h.update(headers or {})
        if body is not None:
            body = urllib.parse.urlencode(body).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def n_decisions(reg) -> int:
    return len(reg.decisions())


# --------------------------------------------------------------------------------------------
# security over plain HTTP
# --------------------------------------------------------------------------------------------


def test_binds_to_loopback_by_default(survey):
    server = survey["server"]
    assert server.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/"
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and b"image(s) to review" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_another_host_header_is_refused(survey):
    status, _, _ = request(survey["server"], "GET", "/", headers={"Host": "evil.example:80"})
    assert status == 421


def _form(survey, **over):
    q1 = survey["queue"][0]
    form = {"token": survey["server"].token, "image": str(q1), "action": "confirm", "rank": "1",
            "individual": "AL-0001"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


@pytest.mark.parametrize("case", ["no token", "wrong token", "foreign origin", "foreign referer",
                                  "null origin"])
def test_forged_posts_are_refused_and_write_nothing(survey, case):
    server, reg = survey["server"], survey["reg"]
    before = n_decisions(reg)
    own = f"http://127.0.0.1:{server.port}"
    form, headers = _form(survey), {"Origin": own}
    if case == "no token":
        form = _form(survey, token=None)
    elif case == "wrong token":
        form = _form(survey, token=server.token[:-2] + "xx")
    elif case == "foreign origin":
        headers = {"Origin": "http://evil.example"}
    elif case == "foreign referer":
        headers = {"Referer": "http://evil.example/page.html"}
    elif case == "null origin":
        headers = {"Origin": "null"}
    status, _, _ = request(server, "POST", "/decide", body=form, headers=headers)
    assert status == 403
    assert n_decisions(reg) == before
    # the same form with the token from this server's page and its own origin is accepted
    status, headers, _ = request(server, "POST", "/decide", body=_form(survey), headers={"Origin": own})
    assert status == 303 and headers["location"].startswith(f"/image/{survey['queue'][1]}")
    assert n_decisions(reg) == before + 1


def test_get_never_writes(survey):
    server, reg = survey["server"], survey["reg"]
    before = n_decisions(reg)
    query = urllib.parse.urlencode(_form(survey))
    for path in (f"/decide?{query}", f"/image/{survey['queue'][0]}?{query}", f"/?{query}"):
        request(server, "GET", path)
    assert n_decisions(reg) == before


@pytest.mark.parametrize("path", [
    "/photo/../../etc/passwd", "/photo/%2e%2e%2fx", "/photo/%2e%2e/%2e%2e/etc/passwd", "/photo/abc",
    "/photo/abc.jpg", "/photo/1e3.jpg", "/photo/-1.jpg", "/photo/999999.jpg", "/photo/",
    "/photo/1/../../../etc/passwd", "/photo//etc/passwd", "/static/../review.py",
    "/query/../../etc/passwd", "/match/1/../../etc/passwd", "/etc/passwd", "/image/abc",
    "/image/999999",
])
def test_only_registered_ids_are_served(survey, path):
    status, headers, body = request(survey["server"], "GET", path)
    assert status == 404
    assert b"root:" not in body


def test_a_registered_file_that_is_not_an_image_is_not_served(survey):
    status, _, body = request(survey["server"], "GET", f"/photo/{survey['text']}.jpg")
    assert status == 404
    assert b"TOP-SECRET" not in body


def test_photos_are_served_by_id_as_reencoded_jpeg(survey):
    status, headers, body = request(survey["server"], "GET", f"/photo/{survey['nasty']}.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert headers["x-content-type-options"] == "nosniff"
    assert body[:2] == b"\xff\xd8"
    assert b"<script>" not in body and b"alert(2)" not in body  # EXIF is not passed on


def test_markup_in_names_codes_and_exif_is_escaped(survey):
    status, headers, body = request(survey["server"], "GET", f"/image/{survey['nasty']}")
    assert status == 200
    page = body.decode()
    assert "<script" not in page.lower()
    assert "alert(2)" not in page  # EXIF fields are never read into the page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in page
    assert '<b onmouseover' not in page and "&lt;b onmouseover=&quot;alert(3)&quot;&gt;ST-X&lt;/b&gt;" in page
    assert '<img src=x' not in page and "&lt;img src=x onerror=&quot;alert(4)&quot;&gt;" in page
    status, _, body = request(survey["server"], "GET", "/")
    assert "<script" not in body.decode().lower() and '<b onmouseover' not in body.decode()
    # and the figure of that image is there: the crafted name did not stop the file being read
    status, headers, body = request(survey["server"], "GET", f"/match/{survey['nasty']}/1.png")
    assert status == 200 and headers["content-type"] == "image/png" and body[:4] == b"\x89PNG"


def test_a_missing_file_is_a_message_not_a_traceback(survey):
    q3 = survey["queue"][2]
    (survey["photos"] / "IMG_0103.JPG").unlink()
    status, _, body = request(survey["server"], "GET", f"/image/{q3}")
    assert status == 200
    page = body.decode()
    assert "cannot be shown" in page and "IMG_0103.JPG" in page and "Traceback" not in page
    status, _, body = request(survey["server"], "GET", f"/photo/{q3}.jpg")
    assert status == 404 and b"missing" in body


def test_a_failing_matcher_is_shown_on_the_page(tmp_path):
    s = build_survey(tmp_path / "s")

    def broken(info):
        raise RuntimeError("model <file> not found")

    with open_registry(s["db"], timezone=TZ) as reg, ReviewServer(reg, broken, reviewer=REVIEWER) as server:
        status, _, body = request(server, "GET", f"/image/{s['queue'][0]}")
    assert status == 200
    assert "The matcher failed" in body.decode() and "model &lt;file&gt; not found" in body.decode()


def test_registry_errors_of_a_decision_are_shown_and_nothing_is_written(survey):
    server, reg = survey["server"], survey["reg"]
    before = n_decisions(reg)
    own = f"http://127.0.0.1:{server.port}"
    form = _form(survey, action="new", code="AL-0001", sex="female", side="left", rank=None, individual=None)
    status, _, body = request(server, "POST", "/decide", body=form, headers={"Origin": own})
    assert status == 400 and "already in the registry" in body.decode()
    assert n_decisions(reg) == before


def test_explicit_host_is_needed_to_bind_elsewhere(tmp_path):
    s = build_survey(tmp_path / "s")
    with open_registry(s["db"], timezone=TZ) as reg:
        server = ReviewServer(reg, s["matcher"], reviewer=REVIEWER, host="0.0.0.0")
        try:
            assert server.server_address[0] == "0.0.0.0"
        finally:
            server.stop()
        server = ReviewServer(reg, s["matcher"], reviewer=REVIEWER)
        try:
            assert server.server_address[0] == "127.0.0.1"
        finally:
            server.stop()


def test_candidate_validation_and_figure_geometry():
    c = Candidate("AL-0001", "left", 0.5, 1, 7, np.array([[1, 2, 3, 4]]))
    assert c.pairs == ((1.0, 2.0, 3.0, 4.0),)
    for bad in (dict(rank=0), dict(side="top"), dict(score=float("nan")), dict(pairs=[(1, 2, 3)])):
        kw = dict(individual="AL-0001", side="left", score=0.5, rank=1, reference_image=7, pairs=())
        kw.update(bad)
        with pytest.raises(ValueError):
            Candidate(**kw)
    # a pair drawn from (10, 10) of the query to (30, 10) of the reference
    q = np.zeros((40, 40, 3), np.uint8)
    r = np.zeros((40, 40, 3), np.uint8)
    fig = match_figure(q, (0, 0, 40, 40), r, (0, 0, 40, 40), [(10, 10, 30, 10)], height=40, gap=0)
    assert fig.shape == (40, 80, 3)
    assert fig[10, 40].max() > 100  # the line crosses the middle at y = 10
    assert fig[30, 40].max() < 50
    assert crop_region((100, 200), None) == (0, 0, 200, 100)
    x0, y0, x1, y1 = crop_region((100, 200), (0.25, 0.25, 0.5, 0.5), [(195, 50)])
    assert x0 < 50 and y0 < 25 and x1 == 200 and y1 > 75


# --------------------------------------------------------------------------------------------
# the browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"browser test needs {' and '.join(missing)} (Debian packages chromium and "
                    "chromium-driver; `make browser` installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


def _loaded(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && "
        "Array.prototype.every.call(document.images, function (i) { return i.complete; });"))


def _images(driver):
    return driver.execute_script(
        "return Array.prototype.map.call(document.images, function (i) {"
        " return {src: i.getAttribute('src'), w: i.naturalWidth, shown: i.getBoundingClientRect().width}; });")


def _submit(driver, button, expect_path):
    """Click ``button`` and wait until the browser shows ``expect_path``."""
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    button.click()
    WebDriverWait(driver, 30).until(EC.staleness_of(button))
    WebDriverWait(driver, 30).until(lambda d: urllib.parse.urlsplit(d.current_url).path == expect_path)
    _loaded(driver)


def _button(driver, text):
    from selenium.webdriver.common.by import By

    found = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.startswith(text)]
    assert found, f"no button {text!r} on {driver.current_url}"
    return found[0]


def _severe(driver):
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.mark.browser
def test_review_in_a_real_browser(driver, tmp_path):
    from selenium.webdriver.common.by import By

    s = build_survey(tmp_path / "s")
    q1, q2, q3 = s["queue"]
    with open_registry(s["db"], timezone=TZ) as reg, open_registry(s["db"], timezone=TZ) as check, \
            ReviewServer(reg, s["matcher"], reviewer=REVIEWER) as server:
        driver.get_log("browser")
        # the queue
        driver.get(server.url)
        _loaded(driver)
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "3 image(s) to review" in body
        start = driver.find_element(By.CSS_SELECTOR, "a.start")
        assert start.get_attribute("accesskey") == "s"
        start.click()
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(driver, 30).until(lambda d: urllib.parse.urlsplit(d.current_url).path == f"/image/{q1}")
        _loaded(driver)

        # the first image: the query view and one figure per candidate, all decoded and big
        imgs = _images(driver)
        srcs = [i["src"] for i in imgs]
        assert srcs == [f"/query/{q1}.jpg", f"/match/{q1}/1.png", f"/match/{q1}/2.png"]
        assert all(i["w"] > 0 for i in imgs), imgs
        assert all(i["shown"] >= 300 for i in imgs), imgs
        # the style sheet applied under the CSP, and no error in the console
        assert driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(23, 24, 27)"
        assert _severe(driver) == []
        # keyboard: access keys on the main actions, forms in reading order
        confirm1 = _button(driver, "✓ Confirm AL-0001")
        assert confirm1.get_attribute("accesskey") == "1"
        assert _button(driver, "✓ Confirm AL-0002").get_attribute("accesskey") == "2"
        assert driver.find_element(By.ID, "code").get_attribute("accesskey") == "n"

        # confirm candidate 1 -> recorded at once, and the next image is shown
        _submit(driver, confirm1, f"/image/{q2}")
        d = check.latest_decision(q1)
        assert (d.decision, d.individual, d.side, d.rank, d.decided_by, d.method) == \
            ("confirmed", "AL-0001", "left", 1, REVIEWER, "review")
        assert d.score == pytest.approx(0.912)
        assert "Recorded: image #%d: confirmed as AL-0001" % q1 in driver.find_element(By.CSS_SELECTOR, ".flash").text
        assert all(i["w"] > 0 for i in _images(driver))  # q2 has no box: the whole image

        # reject candidate 1 of the second image -> a rejected decision; the page stays on it
        _submit(driver, _button(driver, "✗ Not AL-0002"), f"/image/{q2}")
        d = check.latest_decision(q2)
        assert (d.decision, d.individual, d.decided_by, d.method) == ("rejected", "AL-0002", REVIEWER, "review")
        assert "rejected by a.ivanova" in driver.find_element(By.CSS_SELECTOR, "section.cand").text

        # a new individual for it -> a new individual with a left flank; the next image
        driver.find_element(By.ID, "code").send_keys("AL-0100")
        driver.find_element(By.CSS_SELECTOR, "#sex option[value=male]").click()
        _submit(driver, _button(driver, "New individual"), f"/image/{q3}")
        new = check.get_individual("AL-0100")
        assert new.sex == "male" and new.sides == ("left",) and new.created_by == REVIEWER
        d = check.latest_decision(q2)
        assert (d.decision, d.individual, d.decided_by) == ("new_individual", "AL-0100", REVIEWER)

        # the last image's file disappears: a clear message; skip goes back to the queue
        (s["photos"] / "IMG_0103.JPG").unlink()
        driver.refresh()
        _loaded(driver)
        text = driver.find_element(By.TAG_NAME, "main").text
        assert "This image cannot be shown" in text and "IMG_0103.JPG" in text
        driver.find_element(By.CSS_SELECTOR, "a.skip").click()
        WebDriverWait(driver, 30).until(lambda d: urllib.parse.urlsplit(d.current_url).path == "/")
        assert "1 image(s) to review" in driver.find_element(By.TAG_NAME, "body").text
        assert check.latest_decision(q3) is None
        assert _severe(driver) == []
        assert s["matcher"].calls.count(q1) == 1  # the matcher is asked once per image
