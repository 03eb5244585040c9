"""The static HTML report, checked in a real headless Chromium.

How the browser test works: selenium drives the Debian ``chromium`` through the
Debian ``chromium-driver`` (both paths given explicitly, so Selenium Manager
never downloads anything), with a fresh profile and every background network
feature off.  The report is opened from disk (file://).  Console errors are read
from chromedriver's browser log (``goog:loggingPrefs``: every console.error,
uncaught exception and failed resource load is a SEVERE entry), and the inline
script sets ``data-ready`` on <html> when every Vega-Lite figure is drawn.  Network
requests are read from chromedriver's performance log (every ``Network.requestWillBeSent``):
none may leave the page (only file: and data: URLs).  Screenshots are written under
tests/artifacts/ (paths printed).  A second test needs no selenium:
``chromium --headless --dump-dom`` / ``--screenshot``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from alloybench.report import results_document
from alloybench.report.html import pareto_front, write_html
from alloybench.tasks.base import Metric

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EVIL = "<script>alert(1)</script>"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-default-apps", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND"]

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="/usr/bin/chromium missing: apt-get install -y chromium chromium-driver")


# ------------------------------------------------------------------ test data
def _metrics(rng: np.random.Generator, scale: float, fail_gsf: bool = False) -> list[Metric]:
    """A small but varied set: plain metrics, curves (series/x), failures, not-applicable."""
    ms: list[Metric] = []
    for phase, a in (("Al", 4.04), ("Cu", 3.63), ("theta", 6.07)):
        ms.append(Metric("bulk", phase, "lattice_a", "lattice_constant", "Å", a * (1 + scale * rng.normal(0, 0.01)),
                         a, source=f"test:{phase}-a"))
        v = a ** 3 / 4
        ms.append(Metric("bulk", phase, "volume_per_atom", "volume", "Å^3/atom", v * (1 + scale * rng.normal(0, 0.03)),
                         v, source=f"test:{phase}-v"))
    ms.append(Metric("bulk", "Mg", "lattice_a", "lattice_constant", "Å", None, 3.19, status="not_applicable",
                     reason="model lacks Mg"))
    for item, ref in (("C11", 110.0), ("C12", 60.0), ("C44", 32.0)):
        ms.append(Metric("elastic", "Al", item, "elastic_constant", "GPa", ref + scale * rng.normal(0, 12), ref))
    for x, ref in zip(np.linspace(0, 1, 9), 0.02 * np.sin(np.pi * np.linspace(0, 1, 9)) ** 2):
        for series in ("theta (001)[100]", "theta'' (010)[001]"):
            failed = fail_gsf and series.startswith("theta''") and x > 0.6
            ms.append(Metric("gsf", f"{series}@{x:.3f}", "energy", "gsf", "eV/Å^2",
                             None if failed else float(ref * (1 + scale * rng.normal(0, 0.4))), float(ref),
                             status="failed" if failed else "ok",
                             reason="gsf:relax: did not converge in 500 steps <fmax>" if failed else "",
                             series=series, x=float(x)))
    for shell, d in enumerate((2.86, 4.05, 4.96, 5.73), 1):
        ref = [-25.0, 8.0, -3.0, 1.0][shell - 1]
        ms.append(Metric("binding", f"Al:Cu-Mg/{shell}NN", "binding", "binding_energy", "meV",
                         ref + scale * rng.normal(0, 8), ref, series="Al: Cu-Mg", x=d))
    return ms


def make_cost(us_per_atom: float, gpu_mib: float, host: str = "Linux gpu-node") -> dict:
    """A cost document as ``alloybench cost`` writes it (the fields the report reads)."""
    return {"model": {}, "device": "cuda", "device_name": "NVIDIA H200", "threads": 16,
            "host": {"platform": host, "python": "3.12", "cpus": 16}, "date": "2026-11-30T10:00:00+0000",
            "load_seconds": 2.0, "memory": {"rss_peak_mib": 3000.0, "gpu_max_allocated_mib": gpu_mib},
            "single_point": [{"n_atoms": n, "median_seconds": us_per_atom * n * 1e-6 * (1.5 if n < 500 else 1.0),
                              "microseconds_per_atom": us_per_atom * (1.5 if n < 500 else 1.0)}
                             for n in (256, 500, 4000)],
            "md": {"steps_per_second": 12.0, "n_atoms": 256}}


def make_doc(name: str, scale: float, seconds: float, seed: int, fail_gsf: bool = False,
             elements: list[str] | None = None) -> dict:
    rng = np.random.default_rng(seed)
    metrics = _metrics(rng, scale, fail_gsf)
    if elements:  # a subsystem model: only the items of its elements were computed
        metrics = [m for m in metrics if not m.item.startswith(("theta", "Mg"))]
    failures = [{"task": "gsf", "name": "theta''_0.75", "stage": "relax", "reason": "did not converge <&>"}] \
        if fail_gsf else []
    timing = {"wall_seconds": seconds * 1.1, "computed": 40, "reused": 0, "device": "cpu",
              "per_task": {"bulk": [10, seconds * 0.3], "gsf": [30, seconds * 0.7]}}
    run = {"date": "2026-11-25T12:00:00+00:00", "command": f"alloybench run --model '{name}'", "tier": "quick",
           "tasks": ["bulk", "elastic", "gsf", "binding"], "elements": elements, "model_spec": name,
           "host": {"platform": "Linux <test>", "python": "3.11", "cpus": 2},
           "versions": {"alloybench": "0.1.0", "ase": "3.29"}, "timing": timing}
    model = {"name": name, "id": f"{name}@test", "family": "test", "version": "1",
             "training_data": "invented <b>bold</b>", "weights": "/tmp/weights & co/model.pt"}
    return results_document(model, run, metrics, failures, timing)


def make_docs() -> list[dict]:
    """Four universal models (three with a cost figure from one machine, one without) and one
    Al-Cu subsystem model."""
    docs = [
        make_doc("sevennet-0", 0.6, 120.0, 1),
        make_doc("chgnet-0.3.0", 1.5, 60.0, 2, fail_gsf=True),
        make_doc("grace-2l-oam", 0.2, 300.0, 3),
        make_doc(EVIL, 1.0, 30.0, 4),
        make_doc("eam-AlCu", 0.8, 5.0, 5, elements=["Al", "Cu"]),
    ]
    for d, (us, mib) in zip(docs, ((60.0, 900.0), (40.0, 500.0), (150.0, 2000.0))):
        d["cost"] = make_cost(us, mib)
    return docs


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, list[dict]]:
    docs = make_docs()
    out = tmp_path_factory.mktemp("html")
    index = write_html(docs, out)
    return index, docs


# ---------------------------------------------------------- static structure
UNIVERSAL = 4  # make_docs(): the first four cover Al-Cu-Mg-Zn


def test_site_files_and_figures(site):
    index, docs = site
    out = index.parent
    assert index.name == "index.html"
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("heatmap", "pareto", "parity-lattice_constant", "curves-gsf", "curves-binding",
                 "matbench-F1", "matbench-kappa_SRME", "matbench-RMSD", "matbench-energy_MAE"):
        assert f"{stem}.png" in names and f"{stem}.svg" in names, stem
        assert (out / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "figures" / f"{stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
    pages = sorted((out / "models").glob("*.html"))
    assert len(pages) == len(docs)
    assert not list(out.rglob("*.tmp"))


def _page_data(text: str) -> dict:
    m = re.search(r'<script type="application/json" id="ab-data">(.*?)</script>', text, flags=re.S)
    assert m, "no figure data in the page"
    return json.loads(m.group(1))


def test_self_contained_and_escaped(site):
    index, docs = site
    for page in [index, *sorted((index.parent / "models").glob("*.html"))]:
        text = page.read_text(encoding="utf-8")
        markup = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", text, flags=re.S)  # outside scripts
        # nothing fetched: no external src/href, no <link>, no external script, no image
        assert not re.search(r'\b(src|href)\s*=\s*"(https?:)?//', markup), page
        assert "<link" not in markup and "<script src" not in markup and "<img" not in markup
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        # the hostile model name never appears as markup (in the figure data '<' is \u003c)
        assert EVIL not in text, page
    text = index.read_text(encoding="utf-8")
    # Vega's bundle once, the figure data, our script
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    assert markup.count("<script") == 3 and text.count("window.vegaEmbed=") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    data = _page_data(text)
    assert data["rows"]["models"] == [d["model"]["name"] for d in docs]  # the real name, as data
    for i in range(len(docs)):
        assert f'data-model="{i}"' in text


def test_verdicts_and_coverage_in_the_page(site):
    """The first section answers per application; subsystem models are not ranked with universal ones."""
    from alloybench.report import fitness

    index, docs = site
    text = index.read_text(encoding="utf-8")
    assert text.index('id="fitness"') < text.index('id="leaderboard-section"') < text.index('id="parity"')
    verdicts = fitness.assess(docs)
    apps, levels = fitness.load_applications()
    assert [a.name for a in apps] == ["plasticity", "precipitation", "clustering"]
    table = text[text.index('<table id="verdicts"'):text.index("</table>", text.index('<table id="verdicts"'))]
    for i, vs in enumerate(verdicts):
        for v in vs:
            assert f'data-verdict="{v.verdict}"' in table
    # the leaderboard holds the universal models only; the Al-Cu model has its own ranking
    board = text[text.index('<table id="leaderboard"'):text.index("</table>", text.index('<table id="leaderboard"'))]
    assert board.count("<tr data-model=") == UNIVERSAL and "eam-AlCu" not in board
    assert 'id="subsystem-Al-Cu"' in text and "metrics scored" in text


def test_cost_on_one_footing(site):
    index, docs = site
    text = index.read_text(encoding="utf-8")
    data = _page_data(text)
    pareto = next(c for c in data["charts"] if c["id"] == "pareto")
    plotted = {p["model"] for p in pareto["extra"] if p["kind"] == "model"}
    assert plotted == {d["model"]["name"] for d in docs if d.get("cost")}  # cost figures only, no wall times
    assert "No <code>alloybench cost</code> figure for 2 of 5 models" in text
    assert "alloybench cost --model" in text  # the command that measures the missing ones
    # a cost figure from another machine is listed but not compared
    other = copy.deepcopy(docs)
    other[3]["cost"] = make_cost(10.0, 100.0, host="Linux laptop")
    from alloybench.report.costs import footing

    f = footing(other)
    assert set(f.points) == {0, 1, 2} and set(f.elsewhere) == {3} and f.missing == [4]


def test_pareto_front_holds_universal_models_only(site):
    """An Al-only EAM scored on 33 metrics once sat on the accuracy-vs-cost front beside models
    scored on 417: subsystem models are drawn hollow and are never part of the front."""
    index, docs = site
    docs = copy.deepcopy(docs)
    for d in docs:
        d["cost"] = d.get("cost") or make_cost(1.0, 50.0)  # the subsystem model is the cheapest of all
    from alloybench.report.costs import footing
    from alloybench.report.figures import pareto_chart

    chart = pareto_chart(docs, footing(docs))
    rows = chart.extra
    sub = {r["model"] for r in rows if r["kind"] == "model" and not r["universal"]}
    assert sub == {d["model"]["name"] for d in docs[UNIVERSAL:]} and sub
    front = {r["model"] for r in rows if r["kind"] == "front"}
    assert front and not front & sub
    assert all(r["scope"].startswith("subsystem") for r in rows if r["kind"] == "model" and r["model"] in sub)


def test_cost_footing_compares_every_model_at_one_cell_size(site):
    """Per-atom cost depends on the cell (on a CPU it grows with it): a model whose scan stopped
    at 500 atoms (memory) is compared with the others at 500, not their 4000."""
    from alloybench.report.costs import footing

    _, docs = site
    docs = copy.deepcopy(docs)
    assert footing(docs).n_atoms == 4000 and {p.n_atoms for p in footing(docs).points.values()} == {4000}
    docs[0]["cost"]["single_point"] = docs[0]["cost"]["single_point"][:2]  # 256 and 500 only
    f = footing(docs)
    assert f.n_atoms == 500 and {p.n_atoms for p in f.points.values()} == {500}
    assert f.points[1].us_per_atom_step == docs[1]["cost"]["single_point"][1]["microseconds_per_atom"]
    from alloybench.report import markdown

    assert "at the 500-atom cell (the largest every compared model measured)" in markdown(docs)


def test_engine_seconds_are_plain_numbers(site):
    index, docs = site
    page = sorted((index.parent / "models").glob("*.html"))[0].read_text(encoding="utf-8")
    cost = page[page.index('id="cost"'):page.index('id="matbench"')]
    assert not re.search(r"\d[eE][+-]?\d", cost)
    from alloybench.report.fmt import seconds

    assert seconds(123456.78) == "123\u2009456.8" and seconds(None) == "–"


def test_model_page_has_every_metric_and_provenance(site):
    index, docs = site
    pages = sorted((index.parent / "models").glob("*.html"))
    for page, doc in zip(pages, docs):
        text = page.read_text(encoding="utf-8")
        body = text[text.index('<table id="metric-table"'):]
        body = body[:body.index("</table>")]
        assert body.count('<tr class="') == len(doc["metrics"])
        assert "/tmp/weights &amp; co/model.pt" in text
        assert "alloybench run --model" in text and "Linux &lt;test&gt;" in text
        for app in ("plasticity", "precipitation", "clustering"):
            assert f'id="app-{app}"' in text
    chg = next(p for p in pages if "chgnet" in p.name).read_text(encoding="utf-8")
    assert "did not converge &lt;&amp;&gt;" in chg and "gsf:relax: did not converge in 500 steps &lt;fmax&gt;" in chg
    assert "chgnet-0.3.0.yml: metrics.phonons.kappa_103" in chg


def test_single_model_without_timing(tmp_path):
    doc = make_doc("emt", 1.0, 10.0, 7)
    doc["timing"] = {}
    index = write_html([doc], tmp_path)
    text = index.read_text(encoding="utf-8")
    assert "No model has an `alloybench cost` figure" in text and "No evaluated model has an exact Matbench" in text


def test_pareto_front():
    pts = [(10.0, 0.5, 0), (5.0, 0.4, 1), (20.0, 0.45, 2), (30.0, 0.9, 3), (5.0, 0.3, 4)]
    assert [p[2] for p in pareto_front(pts)] == [1, 0, 3]


# ------------------------------------------------------------- real browser
def _flags(profile: Path) -> list[str]:
    return CHROME_FLAGS + [f"--user-data-dir={profile}"]


def _marks(driver, fig: str, model: str) -> list:
    """Vega's SVG marks of ``model`` in figure ``fig`` (Vega labels each mark with its fields)."""
    from selenium.webdriver.common.by import By

    return [e for e in driver.find_elements(By.CSS_SELECTOR, f"#fig-{fig} path[aria-label]")
            if f"model: {model};" in (e.get_attribute("aria-label") or "")]


def _wait(driver, condition, timeout: float = 20.0):
    import time

    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


@needs_chromium
def test_browser_selenium(site, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed: pip install selenium")
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    if not CHROMEDRIVER.exists():
        pytest.skip("/usr/bin/chromedriver missing: apt-get install -y chromium-driver")
    index, docs = site
    names = [d["model"]["name"] for d in docs]
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in _flags(tmp_path / "profile"):
        opts.add_argument(flag)
    opts.add_argument("--window-size=1400,1000")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(60)
        driver.get(index.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        assert _wait(driver, lambda: driver.execute_script(
            "return document.documentElement.getAttribute('data-ready')") == "1", 60)
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018: the hostile name must not run
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors

        # the verdict table: one row per model, a verdict per application, each one click from its metrics
        rows = driver.find_elements(By.CSS_SELECTOR, "#verdicts tbody tr")
        assert len(rows) == len(docs)
        assert {r.find_element(By.CSS_SELECTOR, "td.model a").text for r in rows} == set(names)
        chips = driver.find_elements(By.CSS_SELECTOR, "#verdicts td.v .verdict")
        assert len(chips) == 3 * len(docs)
        assert {c.text for c in chips} <= {"good", "usable", "poor", "very poor", "not covered"}
        assert driver.find_element(By.ID, "fitness").location["y"] < 700  # on the first screen

        # the leaderboard: universal models only, sorted by overall score; clicking the header reverses it
        rows = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        assert len(rows) == UNIVERSAL
        shown = {r.find_element(By.CSS_SELECTOR, "td.model a").text for r in rows}
        assert shown == set(names[:UNIVERSAL])  # the <script> name is text
        assert not driver.find_elements(By.XPATH, "//script[contains(., '<script>alert(1)')]")  # JSON holds it as \u003c
        col = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")].index("overall (95% CI)")
        scores = [float(r.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-sort")) for r in rows]
        assert scores == sorted(scores, reverse=True)
        header = driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")[col]
        header.click()
        header.click()
        rows = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        assert [float(r.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-sort")) for r in rows] == sorted(scores)

        # figures drawn by Vega: every model has marks in the parity plot
        figs = driver.find_elements(By.CSS_SELECTOR, "div.vega[data-rendered='1'] svg")
        assert len(figs) >= 8 and all(f.size["width"] > 100 and f.size["height"] > 100 for f in figs)
        fig = "parity-lattice_constant"
        for n in names:
            assert len(_marks(driver, fig, n)) >= 2, n
        # toggle a model with its legend entry: the others fade, clicking again restores them
        target = names[1]
        label = next(t for t in driver.find_elements(By.CSS_SELECTOR, f"#fig-{fig} .role-legend text")
                     if t.text == target)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", label)
        label.click()

        def opacity(n):
            return [float(e.get_attribute("opacity") or 1) for e in _marks(driver, fig, n)]
        assert _wait(driver, lambda: all(o < 0.2 for o in opacity(names[0])))
        assert all(o > 0.8 for o in opacity(target))
        label = next(t for t in driver.find_elements(By.CSS_SELECTOR, f"#fig-{fig} .role-legend text")
                     if t.text == target)
        label.click()
        assert _wait(driver, lambda: all(o > 0.8 for o in opacity(names[0])))
        # switch a model off page-wide: its marks leave every figure; on again: back
        box = driver.find_element(By.CSS_SELECTOR, "#model-toggles input[data-model='0']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        box.click()
        assert _wait(driver, lambda: not _marks(driver, fig, names[0]))
        assert _marks(driver, fig, names[1]) and not _marks(driver, "curves-gsf", names[0])
        box.click()
        assert _wait(driver, lambda: _marks(driver, fig, names[0]))
        # hover: the tooltip names item, value and reference
        mark = _marks(driver, fig, names[2])[0]
        webdriver.ActionChains(driver).move_to_element(mark).perform()
        tip = _wait(driver, lambda: driver.execute_script(
            "var t = document.getElementById('vg-tooltip-element'); return t && t.textContent"))
        # (points of several models may sit on one another: the top one answers)
        assert tip and any(n in tip for n in names) and "DFT" in tip and "item" in tip and "error" in tip

        # no request left the page: only the page itself (file:) and inline data
        urls = []
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            # requests our pages made (the browser's own new-tab page loads chrome:// resources first)
            if msg.get("method") == "Network.requestWillBeSent" and msg["params"].get("documentURL", "").startswith("file:"):
                urls.append(msg["params"]["request"]["url"])
        assert urls and all(u.startswith(("file:", "data:", "blob:")) for u in urls), urls
        assert driver.execute_script(
            "return performance.getEntriesByType('resource').filter(function (e) {"
            " return !/^(file|data|blob):/.test(e.name); }).length") == 0

        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(int(height), 12000))
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-index.png"
        assert driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")

        # a verdict is one click from its metrics
        driver.set_window_size(1400, 1000)
        link = driver.find_element(By.CSS_SELECTOR, "#verdicts tbody tr td.v a.verdict")
        href = link.get_attribute("href")
        driver.execute_script("window.scrollTo(0, 0)")
        link.click()
        assert _wait(driver, lambda: driver.execute_script(
            "return document.documentElement.getAttribute('data-ready')") == "1")
        anchor = href.split("#", 1)[1]
        assert driver.current_url.endswith("#" + anchor) and driver.find_element(By.ID, anchor).is_displayed()

        # a model page: every metric row, provenance, and the filter box works
        driver.get(index.as_uri())
        evil = next(a for a in driver.find_elements(By.CSS_SELECTOR, "#models a") if a.text == EVIL)
        evil.click()
        assert _wait(driver, lambda: driver.execute_script(
            "return document.documentElement.getAttribute('data-ready')") == "1")
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018
        assert driver.find_element(By.TAG_NAME, "h1").text == f"alloybench: {EVIL}"
        body = driver.find_elements(By.CSS_SELECTOR, "#metric-table tbody tr")
        assert len(body) == len(docs[3]["metrics"])
        box = driver.find_element(By.CSS_SELECTOR, "input.filter")
        box.send_keys("binding")
        visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#metric-table tbody tr") if r.is_displayed()]
        assert len(visible) == sum(m["task"] == "binding" for m in docs[3]["metrics"])
        assert "/tmp/weights & co/model.pt" in driver.find_element(By.ID, "provenance").text
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        shot = ARTIFACTS / "report-model.png"
        driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
    finally:
        driver.quit()


@needs_chromium
def test_browser_cli_dump_dom_and_screenshot(site, tmp_path):
    """Without selenium: the DOM after scripts ran, console messages on stderr, a --screenshot."""
    index, docs = site
    cmd = [str(CHROMIUM), *_flags(tmp_path / "profile"), "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=20000", "--dump-dom", index.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert 'data-ready="1"' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and EVIL not in dom
    console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    assert dom.count('data-rendered="1"') >= 8
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-index-cli.png"
    shot.unlink(missing_ok=True)
    res = subprocess.run([str(CHROMIUM), *_flags(tmp_path / "profile2"), "--window-size=1400,2400",
                          "--virtual-time-budget=20000", f"--screenshot={shot}", "--hide-scrollbars", index.as_uri()],
                         capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert res.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000, res.stderr[-2000:]
    print(f"screenshot: {shot}")


def test_perturbed_copy_of_a_real_document(tmp_path):
    """A second model made by perturbing a document keeps every page valid."""
    a = make_doc("model-a", 0.5, 10.0, 11)
    b = copy.deepcopy(a)
    b["model"]["name"] = "model-b"
    for m in b["metrics"]:
        if m["value"] is not None:
            m["value"] *= 1.05
    index = write_html([a, b], tmp_path / "site")
    assert (tmp_path / "site" / "models").is_dir() and index.exists()
    shutil.rmtree(tmp_path / "site")


def test_markdown_leaderboard_says_when_a_run_resumed():
    """A resumed run's wall time covers only what it computed: the table must say so."""
    from alloybench.report import markdown

    fresh, resumed = make_docs()[:2]
    fresh["cost"] = resumed["cost"] = None  # only the leaderboard rows start with the model name
    resumed["timing"] = {**resumed["timing"], "wall_seconds": 294.2, "computed": 194, "reused": 283}
    fresh["timing"] = {**fresh["timing"], "reused": 0}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in markdown([fresh, resumed]).splitlines()
            if line.startswith("| ") and "wall s" not in line}
    assert "| 294 (194 of 477 Jobs) |" in rows[resumed["model"]["name"]]
    assert "Jobs)" not in rows[fresh["model"]["name"]]
