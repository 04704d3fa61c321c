"""The web UI (``/ui``) in a real headless Chromium against a real server: runs logged with
loopml's client show up in the runs table, search narrows it (a bad filter shows the API's
error), charts have a point per logged step, compare, models, datasets, monitors, run names
shown as text, and the token prompt of a server that checks tokens."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.config import Settings
from loopml.entities import LineageDirection, LineageEdge, MonitorResult
from loopml.server.app import create_app
from tests._servers.loopml import serve_in_thread
from tests.conftest import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.ui]

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("no chromium on PATH (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # the UI runs under a strict Content-Security-Policy: nothing it does may be refused
    tab.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
    assert not errors, f"the page raised: {errors}"


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(tracking_uri=url, capture_packages=False, **extra)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(tracking_uri=str(tmp_path / "store"), capture_packages=False)
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _log(
    client: lm.TrackingClient, exp: str, name: str, lr: str, rmse: list[float], **kw: Any
) -> str:
    run = client.create_run(exp, run_name=name, user_id="ana", **kw)
    run_id = run.info.run_id
    client.log_params(run_id, {"lr": lr, "depth": "6"})
    for step, value in enumerate(rmse):
        client.log_metric(run_id, "rmse", value, step=step)
    client.log_metric(run_id, "auc", 0.5 + len(name) / 100)
    client.set_tag(run_id, "team", "pricing")
    client.flush(run_id)
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.fixture
def logged(server: str) -> dict[str, Any]:
    with closing(lm.TrackingClient(settings=_settings(server))) as client:
        exp = client.create_experiment("pricing")
        ids = {
            "gbm-a": _log(client, exp, "gbm-a", "0.1", [0.9, 0.7, 0.5, 0.4, 0.35]),
            "gbm-b": _log(client, exp, "gbm-b", "0.01", [1.2, 1.1, 1.05]),
            "gbm-c": _log(client, exp, "gbm-c", "0.1", [0.8, 0.6, 0.55, 0.52]),
            "xss": _log(client, exp, XSS, "0.3", [2.0]),
        }
    return {"url": server, "experiment": exp, "ids": ids}


def _runs_shown(page: Any) -> list[str]:
    page.wait_for_selector("#runs tbody tr")
    return [t.strip() for t in page.locator("#runs tbody td.run-name").all_inner_texts()]


def _wait_first(page: Any, name: str) -> None:
    page.wait_for_function(
        "(name) => document.querySelector('#runs td.run-name')?.textContent.includes(name)",
        arg=name,
    )


def test_runs_table_search_sort_and_a_bad_filter(page: Any, logged: dict[str, Any]) -> None:
    url = logged["url"]
    page.goto(url + "/")  # redirects to the UI
    assert page.url.startswith(url + "/ui/")
    page.get_by_role("link", name="pricing").click()
    shown = _runs_shown(page)
    assert sorted(shown) == sorted(["gbm-a", "gbm-b", "gbm-c", XSS])
    row = page.locator(f'#runs tr[data-run-id="{logged["ids"]["gbm-a"]}"]')
    assert row.locator('td[data-metric="rmse"]').inner_text() == "0.35"  # the latest value
    assert row.locator('td[data-param="lr"]').inner_text() == "0.1"
    assert "FINISHED" in row.inner_text() and "ana" in row.inner_text()

    page.fill("#run-filter", "metrics.rmse < 0.6 and params.lr = '0.1'")
    page.press("#run-filter", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#runs tbody tr').length === 2")
    assert sorted(_runs_shown(page)) == ["gbm-a", "gbm-c"]
    assert "filter=" in page.url  # the search is in the address: reload or share it

    page.locator('th[data-sort="metrics.rmse"]').click()  # ascending first
    page.wait_for_selector('th[data-sort="metrics.rmse"] .arrow')
    assert _runs_shown(page) == ["gbm-a", "gbm-c"]
    page.locator('th[data-sort="metrics.rmse"]').click()  # then descending
    page.wait_for_function(
        "() => document.querySelector('th[data-sort=\"metrics.rmse\"] .arrow')"
        "?.textContent.includes('▼')"
    )
    assert _runs_shown(page) == ["gbm-c", "gbm-a"]

    bad = "metrics.rmse <<< 1"
    expected = httpx.post(
        f"{url}/api/v1/runs/search", json={"experiment_ids": [logged["experiment"]], "filter": bad}
    )
    assert expected.status_code == 400
    page.fill("#run-filter", bad)
    page.press("#run-filter", "Enter")
    error = page.locator("#runs-results .error")
    error.wait_for()
    assert expected.json()["message"] in error.inner_text()
    assert page.locator("#runs").count() == 0


def test_a_run_name_with_markup_is_shown_as_text(page: Any, logged: dict[str, Any]) -> None:
    url, ids = logged["url"], logged["ids"]
    page.goto(f"{url}/ui/#/experiments/{logged['experiment']}")
    _runs_shown(page)
    cell = page.locator(f'#runs tr[data-run-id="{ids["xss"]}"] td.run-name')
    assert cell.inner_text().strip() == XSS
    assert cell.locator("script, img").count() == 0
    page.goto(f"{url}/ui/#/runs/{ids['xss']}")
    assert page.locator("#run-name").inner_text() == XSS
    page.wait_for_selector("figure.chart")
    assert page.evaluate("window.__pwned") is None


def test_compare_shows_both_runs_with_differences_and_overlaid_histories(
    page: Any, logged: dict[str, Any]
) -> None:
    url, ids = logged["url"], logged["ids"]
    page.goto(f"{url}/ui/#/experiments/{logged['experiment']}")
    _runs_shown(page)
    assert page.locator("#compare").is_disabled()
    page.check(f'input[data-run-id="{ids["gbm-a"]}"]')
    page.check(f'input[data-run-id="{ids["gbm-b"]}"]')
    page.click("#compare")
    page.wait_for_selector("#compare-runs")
    headers = page.locator("#compare-runs thead th").all_inner_texts()
    assert "gbm-a" in headers and "gbm-b" in headers
    lr = page.locator('.compare-params tr[data-key="lr"]')
    assert "diff" in (lr.get_attribute("class") or "")
    assert "0.1" in lr.inner_text() and "0.01" in lr.inner_text()
    depth = page.locator('.compare-params tr[data-key="depth"]')
    assert "diff" not in (depth.get_attribute("class") or "")
    chart = page.locator('#compare-charts figure[data-metric="rmse"]')
    chart.wait_for()
    series = chart.locator("g.series")
    assert series.count() == 2
    counts = {series.nth(i).get_attribute("data-name"): series.nth(i).locator("circle").count()
              for i in range(2)}  # fmt: skip
    assert counts == {"gbm-a": 5, "gbm-b": 3}
    page.check("#only-differences")
    assert page.locator('.compare-params tr[data-key="depth"]').count() == 0


def test_a_run_page_draws_a_point_per_step_and_lists_what_the_run_made(
    page: Any, server: str, tmp_path: Path
) -> None:
    values = [1 / (s + 1) for s in range(7)]
    with closing(lm.TrackingClient(settings=_settings(server))) as client:
        exp = client.create_experiment("training")
        parent = _log(client, exp, "pipeline", "0.1", [1.0])
        run_id = _log(client, exp, "step-train", "0.2", values, parent_run_id=parent)
        client.log_metric(run_id, "loss", math.nan, step=0)  # drawn around, not crashed on
        (tmp_path / "notes.txt").write_text("features: distance, hour\n")
        client.log_artifact(run_id, tmp_path / "notes.txt", "reports")
        client.stores.metadata.log_lineage(
            run_id, [LineageEdge(run_id, "datasets:/rides/2", LineageDirection.INPUT, "training")]
        )
        client.flush(run_id)
    page.goto(f"{server}/ui/#/runs/{run_id}")
    assert page.locator("#run-name").inner_text() == "step-train"
    assert "0.2" in page.locator("table.params").inner_text()
    chart = page.locator('#metric-charts figure[data-metric="rmse"]')
    chart.wait_for()
    assert chart.locator("g.series circle").count() == len(values)
    assert chart.locator("g.series").get_attribute("data-points") == str(len(values))
    assert "7 points" in chart.locator("h3").inner_text()
    page.locator('#metric-charts figure[data-metric="loss"]').wait_for()
    assert "team" in page.locator("table.tags").inner_text()
    lineage = page.locator("table.lineage")
    lineage.wait_for()
    assert "datasets:/rides/2" in lineage.inner_text() and "training" in lineage.inner_text()
    artifacts = page.locator("table.artifacts")
    artifacts.wait_for()
    assert "reports/notes.txt" in artifacts.inner_text()
    with page.expect_download() as info:
        artifacts.locator("a.download").click()
    saved = info.value.path()
    assert Path(saved).read_text() == "features: distance, hour\n"
    assert page.locator("#parent-link").inner_text() == parent

    page.click("#parent-link")
    children = page.locator("table.children")
    children.wait_for()
    assert "step-train" in children.inner_text()


def test_a_long_history_is_fetched_page_by_page_and_drawn_thinned(page: Any, server: str) -> None:
    steps = 25_000  # three pages of the history API
    with closing(lm.TrackingClient(settings=_settings(server))) as client:
        exp = client.create_experiment("long")
        run_id = client.create_run(exp, run_name="long").info.run_id
        for step in range(steps):
            client.log_metric(run_id, "loss", 1 / (step + 1) + (step == 12_345), step=step)
        client.flush(run_id)
    page.goto(f"{server}/ui/#/runs/{run_id}")
    chart = page.locator('figure[data-metric="loss"]')
    chart.wait_for(timeout=30_000)
    assert chart.locator("g.series").get_attribute("data-points") == str(steps)
    assert "25,000 points" in chart.locator("h3").inner_text()
    assert chart.locator("circle").count() == 0  # too many to mark each
    path = chart.locator("g.series path").get_attribute("d") or ""
    drawn = path.count("L") + 1
    assert 500 < drawn <= 2_100  # thinned for drawing
    # the spike at step 12,345 (x = 58 + 566 * 12345 / 24999 in the chart) survives the
    # thinning: a point near that x is drawn near the top, though its neighbours are ~0
    points = [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", path)]
    spike_x = 58 + 566 * 12_345 / (steps - 1)
    assert any(abs(x - spike_x) < 1 and y < 20 for x, y in points)
    assert all(y > 200 for x, y in points if 5 < abs(x - spike_x) < 50)


def test_the_runs_table_pages_through_many_runs(page: Any, server: str) -> None:
    with closing(lm.TrackingClient(settings=_settings(server))) as client:
        exp = client.create_experiment("sweep")
        for i in range(60):
            run = client.create_run(exp, run_name=f"trial-{i:03d}", start_time=1_000_000 + i)
            client.log_metric(run.info.run_id, "score", i)
        client.flush()
    page.goto(f"{server}/ui/#/experiments/{exp}?size=25")
    first = _runs_shown(page)
    assert first[0] == "trial-059" and len(first) == 25  # newest first
    page.get_by_role("button", name="Next ›").first.click()
    _wait_first(page, "trial-034")
    assert _runs_shown(page) == [f"trial-{i:03d}" for i in range(34, 9, -1)]
    page.get_by_role("button", name="Next ›").first.click()
    _wait_first(page, "trial-009")
    assert len(_runs_shown(page)) == 10
    assert page.get_by_role("button", name="Next ›").first.is_disabled()
    page.go_back()
    _wait_first(page, "trial-034")
    page.get_by_role("button", name="‹ Previous").first.click()
    _wait_first(page, "trial-059")
    # sorting from the keyboard: newest first, then (Enter again) oldest first
    started = 'th[data-sort="attributes.start_time"]'
    page.focus(started)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'{started}[aria-sort="descending"]')
    page.focus(started)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'{started}[aria-sort="ascending"]')
    assert _runs_shown(page)[:2] == ["trial-000", "trial-001"]
    assert "page=" not in page.url  # a new order starts at its first page


def test_a_model_page_lists_versions_aliases_and_the_audit_log(page: Any, server: str) -> None:
    with closing(lm.TrackingClient(settings=_settings(server, user="ana"))) as client:
        exp = client.create_experiment("pricing")
        run_id = _log(client, exp, "gbm", "0.1", [0.5])
        store = client.stores.metadata
        store.create_registered_model("fares", "predicts <b>fares</b>", [], "ana")
        store.create_model_version("fares", f"runs:/{run_id}/model", run_id, "", [], "ana")
        store.create_model_version("fares", f"runs:/{run_id}/model", run_id, "", [], "ana")
        from loopml.entities import VersionStatus

        store.set_version_status("fares", 1, VersionStatus.APPROVED, "bob", "looks good")
        store.set_alias("fares", "champion", 1, "bob")
        store.set_alias("fares", "candidate", 2, "bob")
    page.goto(f"{server}/ui/#/models")
    page.get_by_role("link", name="fares").click()
    versions = page.locator("table.versions")
    versions.wait_for()
    v1 = versions.locator('tr[data-version="1"]')
    assert "approved" in v1.inner_text() and "champion" in v1.inner_text()
    v2 = versions.locator('tr[data-version="2"]')
    assert "pending_review" in v2.inner_text() and "candidate" in v2.inner_text()
    aliases = page.locator("table.aliases").inner_text()
    assert "champion" in aliases and "v1" in aliases and "candidate" in aliases
    assert page.locator("main p.wrap").first.inner_text() == "predicts <b>fares</b>"  # as text
    assert page.locator("main b").count() == 0
    audit = page.locator("table.audit")
    audit.wait_for()
    assert "bob" in audit.inner_text() and "ana" in audit.inner_text()
    v1.locator("a.mono").click()
    assert page.locator("#run-name").inner_text() == "gbm"


def test_a_dataset_page_lists_versions_with_rows_and_a_profile(page: Any, server: str) -> None:
    import pandas as pd

    lm.set_tracking_uri(server)
    lm.data.log_dataset("rides", pd.DataFrame({"km": [1.0, 2.5, 4.0], "city": list("aab")}))
    lm.data.log_dataset("rides", pd.DataFrame({"km": [1.0, 2.0, 3.0, 9.0], "city": list("abcc")}))
    page.goto(f"{server}/ui/#/datasets")
    page.get_by_role("link", name="rides").click()
    versions = page.locator("table.dataset-versions")
    versions.wait_for()
    rows = versions.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().startswith("v2") and "\t4\t" in rows.nth(0).inner_text()
    km = page.locator("table.profile tbody tr:has-text('km') td")
    assert km.nth(6).inner_text() == "9"  # max of the newest version, shown first
    assert km.nth(7).inner_text() == "3.75"  # its mean
    rows.nth(1).get_by_role("link", name="profile").click()
    page.wait_for_selector("h2:has-text('Profile of v1')")
    assert km.nth(6).inner_text() == "4"
    city = page.locator("table.profile tbody tr:has-text('city') td")
    assert "a (2)" in city.nth(9).inner_text()  # top values with their counts


def test_deployments_and_a_monitor_with_its_drift_over_windows(page: Any, server: str) -> None:
    hour = 3_600_000
    start = 1_767_225_600_000  # 2026-01-01
    with closing(lm.TrackingClient(settings=_settings(server))) as client:
        store = client.stores.metadata
        store.create_deployment(
            "fares-api",
            {"model": "models:/fares@champion", "canary": "models:/fares/2", "canary_weight": 10},
            {"primary": {"name": "fares", "version": 1}, "canary": {"name": "fares", "version": 2}},
            "ana",
        )
        store.create_monitor("fares-drift", "fares-api", "datasets:/rides/1", 3600, {}, "ana")
        shares = [0.0, 0.25, 0.5, 0.75]
        for i, share in enumerate(shares):
            begin = start + i * hour
            assert store.claim_monitor_window("fares-drift", begin, begin + hour, "test")
            drift = {"share": share, "drift_share": 0.5, "drifted_columns": ["km"] * (i > 0)}
            result = MonitorResult(
                "fares-drift", begin, begin + hour, "alert" if share >= 0.5 else "ok", 100,
                None, {"drift": drift}, "", 0, 0,
            )  # fmt: skip
            store.record_monitor_result(result, [], "test")
    page.goto(f"{server}/ui/#/deployments")
    deployments = page.locator("table.deployments")
    deployments.wait_for()
    text = deployments.inner_text()
    assert "models:/fares@champion" in text and "fares v1" in text and "10%" in text
    page.get_by_role("link", name="fares-drift").click()
    chart = page.locator("#drift-chart")
    chart.wait_for()
    drifted = chart.locator('g.series[data-name="drifted share"] circle')
    assert drifted.count() == len(shares)
    assert chart.locator('g.series[data-name="threshold"]').count() == 1
    windows = page.locator("table.windows tbody tr")
    assert windows.count() == len(shares)
    assert "alert" in windows.nth(0).inner_text() and "0.75" in windows.nth(0).inner_text()


def test_empty_states_and_unknown_things(page: Any, server: str) -> None:
    page.goto(f"{server}/ui/")
    page.get_by_role("link", name="Default").click()  # every store has it, with no runs
    page.wait_for_selector(".empty")
    assert "No runs in this experiment yet" in page.locator(".empty").inner_text()
    page.goto(f"{server}/ui/#/experiments?name=nothing-like-this")
    page.wait_for_selector(".empty")
    assert "No experiment's name contains" in page.locator(".empty").inner_text()
    page.goto(f"{server}/ui/#/runs/{'0' * 32}")
    page.wait_for_selector(".error")
    assert "0" * 32 in page.locator(".error").inner_text()
    page.goto(f"{server}/ui/#/models")
    page.wait_for_selector(".empty")
    assert "No registered models yet" in page.inner_text("main")
    page.goto(f"{server}/ui/#/compare?runs=abc")
    assert "two or more runs" in page.inner_text("main")


def test_a_server_with_tokens_loads_the_ui_and_asks_for_one(
    page: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens"
    assert main(["tokens", "create", "alice", "--file", str(tokens), "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    settings = Settings(
        tracking_uri=str(tmp_path / "store"), capture_packages=False, server_auth_file=str(tokens)
    )
    with serve_in_thread(create_app(settings)) as url:
        # the static files load without a token; the data does not
        for path, kind in (("/ui/", "text/html"), ("/ui/js/app.js", "text/javascript"),
                           ("/ui/style.css", "text/css")):  # fmt: skip
            answer = httpx.get(url + path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith(kind)
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert httpx.get(url + "/ui/no-such-file.js").status_code == 404
        for path in ("/", "/ui"):
            moved = httpx.get(url + path, follow_redirects=True)
            assert moved.status_code == 200 and str(moved.url) == url + "/ui/", path
        api = httpx.get(url + "/api/v1/experiments", headers={"X-Requested-With": "loopml-ui"})
        assert api.status_code == 401
        assert "basic" not in api.headers["www-authenticate"].lower()  # no browser login box
        assert "Basic" in httpx.get(url + "/api/v1/experiments").headers["www-authenticate"]
        with closing(lm.TrackingClient(settings=_settings(url, tracking_token=token))) as client:
            exp = client.create_experiment("secured")
            _log(client, exp, "locked-run", "0.1", [0.3, 0.2])

        page.goto(url + "/ui/")
        dialog = page.locator("#token-dialog")
        dialog.wait_for(state="visible")
        page.fill("#token-input", "lml_wrong")
        page.click("#token-dialog button[type=submit]")
        page.wait_for_function(
            "() => document.querySelector('#token-why').textContent.includes('refused')"
        )
        page.fill("#token-input", token)
        page.click("#token-dialog button[type=submit]")
        page.get_by_role("link", name="secured").click()
        assert _runs_shown(page) == ["locked-run"]
        page.locator("td.run-name a").click()
        page.locator('figure[data-metric="rmse"] circle').nth(1).wait_for()
        assert page.evaluate("sessionStorage.getItem('loopml.token')") == token
        # a new tab of the same session keeps the token; signing out forgets it
        page.click("#sign-out")
        dialog.wait_for(state="visible")
        assert page.evaluate("sessionStorage.getItem('loopml.token')") is None


def test_only_the_ui_files_are_open() -> None:
    from loopml.server.auth import _is_open

    for path in ("/", "/ui", "/ui/", "/ui/js/app.js", "/health"):
        assert _is_open(path), path
    for path in ("/ui/../api/v1/experiments", "/ui/js/../../api/v1/runs/x", "/uix", "/ui-data"):
        assert not _is_open(path), path
    assert not _is_open("/api/v1/experiments")


def test_the_package_ships_every_ui_file() -> None:
    import tomllib

    from loopml.server.ui import STATIC

    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["loopml"]
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"index.html", "style.css", "app.js"}
    root = STATIC.parents[2]  # src/loopml
    for path in files:
        relative = path.relative_to(root)
        assert any(relative.match(g) for g in globs), f"{relative} is not in the package data"
    assert re.search(r'src="js/app\.js"', (STATIC / "index.html").read_text())


def _served_prediction(url: str) -> tuple[str, str]:
    """Through the server: a run trained on rides@1 whose model is fares v1, and one logged
    two-row request `req-7` of deployment `fares-api` answered by it; (run id, dataset URI)."""
    import time

    import numpy as np
    import pandas as pd

    from loopml.data import DataClient
    from loopml.serving.predlog import LogEntry, PredictionLogger

    with closing(lm.TrackingClient(settings=_settings(url))) as client:
        exp = client.create_experiment("fares")
        run_id = client.create_run(exp, run_name="train-fares").info.run_id
        client.log_params(run_id, {"depth": "4"})
        client.set_tag(run_id, "loopml.source.git.commit", "c0ffee" * 6 + "beef")
        with DataClient(client) as data:
            version = data.log_dataset("rides", pd.DataFrame({"km": [1.0, 2.0, 3.0]}))
        client.stores.metadata.log_lineage(
            run_id, [LineageEdge(run_id, version.uri, LineageDirection.INPUT, "training")]
        )
        client.stores.metadata.create_registered_model("fares")
        client.stores.metadata.create_model_version("fares", f"runs:/{run_id}/model", run_id)
        logger = PredictionLogger(client.stores.blobs.bytes, "fares-api", flush_interval=60)
        logger.start()
        logger.record(
            LogEntry("req-7", int(time.time() * 1e6), "primary", "fares", 1, run_id, 200, 2.0,
                     None, 2, {"km": np.array([1.5, 4.0])}, {"prediction": np.array([7.5, 12.0])})
        )  # fmt: skip
        logger.close()
    return run_id, version.uri


def test_a_prediction_is_traced_from_the_deployments_page(page: Any, server: str) -> None:
    run_id, dataset = _served_prediction(server)
    answer = httpx.get(f"{server}/api/v1/deployments/fares-api/requests/req-7/trace")
    assert answer.status_code == 200 and answer.json()["model_uri"] == "models:/fares/1"
    missing = httpx.get(f"{server}/api/v1/deployments/fares-api/requests/nope/trace")
    assert missing.status_code == 404 and "no prediction" in missing.json()["message"]
    long_id = "x" * 200
    assert (
        httpx.get(f"{server}/api/v1/deployments/fares-api/requests/{long_id}/trace").status_code
        == 400
    )

    page.goto(server + "/ui/#/deployments")
    page.fill("#trace-deployment", "fares-api")
    page.fill("#trace-request", "req-7")
    page.get_by_role("button", name="Trace a prediction").click()
    page.wait_for_selector("#trace-facts")
    assert page.locator("#trace-model").inner_text() == "models:/fares/1"
    assert page.locator("#trace-run").inner_text() == run_id
    assert page.locator("#trace-commit").inner_text().startswith("c0ffee")
    assert dataset in page.locator(".trace-data").inner_text()
    assert page.locator(".trace-rows tbody tr").count() == 2
    assert "12" in page.locator(".trace-rows").inner_text()
    page.locator("#trace-run a").click()
    page.wait_for_function("(id) => location.hash === `#/runs/${id}`", arg=run_id)

    page.goto(server + "/ui/#/trace/fares-api/nope")
    page.wait_for_selector("pre.error")
    assert "no prediction" in page.locator("pre.error").inner_text()
