"""Screenshots of a built HTML report, section by section, in headless Chromium (selenium).

    python tools/report_screenshots.py SITE_DIR OUT_DIR [--width 1400]

Writes OUT_DIR/report-<section>.png for the index's sections and report-model.png for the
first model page; waits until the page's script set data-ready (figures drawn).  Uses the
Debian chromium / chromedriver (no Selenium Manager download).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

SECTIONS = ("fitness", "leaderboard-section", "heatmap", "cost", "parity", "curves", "matbench")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
         "--no-first-run", "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def driver(width: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--window-size={width},1000")
    return webdriver.Chrome(options=opts, service=Service(executable_path="/usr/bin/chromedriver"))


def wait_ready(d, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1":
            return
        time.sleep(0.2)
    raise TimeoutError("the page did not become ready")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("site", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--max-height", type=int, default=3000)
    a = ap.parse_args()
    from selenium.webdriver.common.by import By

    a.out.mkdir(parents=True, exist_ok=True)
    d = driver(a.width)
    try:
        d.get((a.site / "index.html").resolve().as_uri())
        wait_ready(d)
        d.set_window_size(a.width, 1000)
        d.save_screenshot(str(a.out / "report-first-screen.png"))
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.set_window_size(a.width, min(int(height) + 100, 16000))
        for s in SECTIONS:
            els = d.find_elements(By.ID, s)
            if not els:
                continue
            path = a.out / f"report-{s}.png"
            els[0].screenshot(str(path))
            print(path)
        first = d.find_elements(By.CSS_SELECTOR, "#models a")[0].get_attribute("href")
        d.set_window_size(a.width, 1000)
        d.get(first)
        wait_ready(d)
        d.save_screenshot(str(a.out / "report-model.png"))
        print(a.out / "report-model.png")
    finally:
        d.quit()


if __name__ == "__main__":
    main()
