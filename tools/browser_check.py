"""Notebook 05 in a real browser, as a student runs it: a notebook server on 127.0.0.1, the
notebook opened in headless Chromium, Run All, then every control of the Grad-CAM explorer
changed once while the figure is watched.

    python tools/browser_check.py --front-end lab --shots /tmp/shots
    python tools/browser_check.py --front-end classic --python /path/to/colab-venv/bin/python \\
        --run-dir /tmp/runs/resnet18 --shots /tmp/shots

It fails (exit 1, one line per problem) when a cell's output is an error, when the page shows
a widget error, when the explorer's cell shows no controls or no picture, or when changing a
control leaves the picture as it was. Controls are found by kind (sliders, dropdowns, toggle
buttons, check boxes inside the explorer's output), not by label, so the check holds for any
explorer whose controls redraw a picture in the same cell.

--python is the environment under test: it serves the notebook (JupyterLab 4 for `lab`, the
classic Notebook 6 for `classic`) and runs its kernel, with this tree's eraskit first on its
path. The browser side needs Playwright (`pip install playwright`) in the Python running this
script and Chromium at --chromium; `playwright install` is not needed. Without --run-dir, a
smoke run is trained first (1 minute on two CPU cores) on $ERASKIT_DATA.

Screenshots go to --shots: FRONT-explorer-start.png and FRONT-explorer-end.png (the explorer
before and after its controls were changed), and when the check fails FRONT-failure.png (the
window) and FRONT-failure-cell.png (the explorer's cell, else the first cell that raised).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_gradcam_gallery.ipynb"
CHROMIUM = "/usr/bin/chromium"
# Headless and offline: without the networking flags Chromium keeps calling Google's servers.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FRONT_ENDS = ("lab", "classic")
# How the two front ends mark up what the check looks at.
SELECTORS = {
    "lab": {"cell": ".jp-Notebook .jp-CodeCell", "prompt": ".jp-InputPrompt",
            "output": ".jp-OutputArea"},
    "classic": {"cell": "#notebook-container .code_cell", "prompt": ".input_prompt",
                "output": ".output_wrapper"},
}
# The explorer's controls, by kind, in ipywidgets 7 and 8 alike.
CONTROLS = ".widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox"
# Text that ipywidgets' front ends put in the page when a widget cannot be shown.
WIDGET_ERRORS = re.compile(r"Error displaying widget|Error rendering|Could not create|"
                           r"Failed to load (model|view)|Widget not found|Model not found",
                           re.IGNORECASE)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"  # a widget's output in the notebook
NBSP = "\xa0"  # ipywidgets 7 and 8 write option labels with no-break spaces
# The smoke preset without its range test, whose flat sweep gives this safe peak anyway.
SMOKE_RUN = ["train", "--preset", "smoke", "--max-lr", "0.025", "--quiet"]
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1: no proxy


@dataclass
class Report:
    """What one check saw: the problems (empty when it passed), each control it changed, and
    the screenshots it saved."""
    front_end: str
    problems: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kernel_env(python: str, run_dir: Path, home: Path) -> dict[str, str]:
    """The server's environment, which its kernels inherit: this tree's eraskit first on the
    path, the run to analyse, and Jupyter's own folders inside `home` so that no user setting
    or kernel of this machine takes part."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the inline backend
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p]),
        PATH=os.pathsep.join([str(Path(python).parent), env.get("PATH", "")]),
        ERASKIT_RUN_DIR=str(run_dir), NO_ALBUMENTATIONS_UPDATE="1",
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
        JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"))
    # JupyterLab would otherwise ask, in a pop-up, whether to fetch news from the internet.
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


def server_command(python: str, front_end: str, port: int, root: Path) -> list[str]:
    """The command serving `root` on 127.0.0.1:`port` with no token and no browser."""
    if front_end == "lab":
        return [python, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                "--IdentityProvider.token=", "--ServerApp.password=",
                f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--allow-root"]
    return [python, "-m", "notebook", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--port-retries=0", "--NotebookApp.token=", "--NotebookApp.password=",
            f"--notebook-dir={root}", "--allow-root"]  # CI runs as root


def wait_for_server(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    """Return once `url`/api answers; raise if the server exits or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the notebook server exited with code {server.returncode}")
        try:
            with LOCAL.open(f"{url}/api", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the notebook server did not answer at {url} within {timeout:.0f} s")


def train_smoke_run(python: str, out: Path, data: Optional[str]) -> Path:
    """A smoke run (3 epochs of a width-8 network on 2,000 images) trained into `out`."""
    path = os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    env = {**os.environ, "PYTHONPATH": path, "NO_ALBUMENTATIONS_UPDATE": "1"}
    extra = ["--data", data] if data else []
    subprocess.run([python, "-m", "eraskit", *SMOKE_RUN, *extra, "--out", str(out)],
                   check=True, env=env, cwd=ROOT)
    return out


# --- the page ----------------------------------------------------------------------------


def open_notebook(page, url: str, front_end: str, name: str) -> None:
    """Open notebook `name` and wait until its kernel is idle."""
    if front_end == "lab":
        page.goto(f"{url}/lab/tree/{name}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        # the status bar names the kernel once it is connected: "Python 3 (ipykernel) | Idle"
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).first.wait_for(
            timeout=120_000)
    else:
        page.goto(f"{url}/notebooks/{name}")
        page.wait_for_selector("#notebook-container .cell", timeout=120_000)
        page.wait_for_selector("#kernel_indicator_icon.kernel_idle_icon", state="attached",
                               timeout=120_000)


def click_menu(page, front_end: str, menu: str, item: str) -> None:
    """Open the menu bar's `menu` and click its `item` (a command id in JupyterLab, an element
    id in the classic Notebook), as a person would."""
    if front_end == "lab":
        page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
        page.locator(f'.lm-Menu-item[data-command="{item}"]').click()
    else:
        page.locator("#menus a.dropdown-toggle", has_text=re.compile(f"^{menu}$")).click()
        page.locator(f"#{item} > a").click()


def prompts(page, front_end: str) -> list[str]:
    """Each code cell's prompt: [ ] before it runs, [*] while it waits or runs, [N] after."""
    css = SELECTORS[front_end]
    return page.evaluate("""([cell, prompt]) => [...document.querySelectorAll(cell)].map(
        c => (c.querySelector(prompt)?.textContent || "").trim())""", [css["cell"], css["prompt"]])


def run_all(page, front_end: str, timeout: float) -> list[str]:
    """Run All from the menu and wait until no cell waits or runs any more; return the prompts
    of the code cells that did not run (Run All stops at a cell that raised)."""
    if front_end == "lab":
        click_menu(page, front_end, "Run", "runmenu:run-all")
    else:
        click_menu(page, front_end, "Cell", "run_all_cells")
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(1)
        now = prompts(page, front_end)
        ran = [p for p in now if re.search(r"\[\d+\]", p)]
        if ran and not any("*" in p for p in now) and kernel_idle(page, front_end):
            return [p for p in now if p not in ran]
        if time.monotonic() > deadline:
            raise TimeoutError(f"Run All still running after {timeout:.0f} s: {now}")


def save(page, front_end: str, path: Path, timeout: float = 60) -> dict:
    """Save the notebook from the menu and return it as written to `path`."""
    before = path.stat().st_mtime_ns
    if front_end == "lab":
        click_menu(page, front_end, "File", "docmanager:save")
    else:
        click_menu(page, front_end, "File", "save_checkpoint")
    deadline = time.monotonic() + timeout
    while path.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the notebook was not saved to {path} within {timeout:.0f} s")
        time.sleep(0.5)
    time.sleep(1)  # let the write finish
    return json.loads(path.read_text())


def code_cells(notebook: dict) -> list[dict]:
    """The code cells of a saved notebook, in order."""
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def error_outputs(notebook: dict) -> list[str]:
    """One line per error output of a saved notebook, naming its cell and the error."""
    found = []
    for number, cell in enumerate(code_cells(notebook), 1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                first = "".join(cell["source"]).strip().splitlines()[0]
                found.append(f"code cell {number} ({first!r}): {output['ename']}: "
                             f"{output['evalue']}")
    return found


def cells_showing(notebook: dict, what: str) -> list[int]:
    """The positions, among the code cells of a saved notebook, of those with an output of
    type "error" (`what` = "error") or with a widget (`what` = WIDGET_VIEW)."""
    return [i for i, cell in enumerate(code_cells(notebook))
            if any(output["output_type"] == what or what in output.get("data", {})
                   for output in cell.get("outputs", []))]


def explorer_cells(page, front_end: str):
    """The code cells whose output holds at least one control: the explorer's, and only it."""
    cells = page.locator(SELECTORS[front_end]["cell"])
    return [cells.nth(i) for i in range(cells.count())
            if cells.nth(i).locator(SELECTORS[front_end]["output"]).locator(CONTROLS).count()]


def picture_digest(output) -> str:
    """A fingerprint of every picture in `output`: the bytes behind each <img> (an
    ipywidgets Image shows a blob: URL that changes with every update, even to the same
    bytes, so the URL alone would not do)."""
    return output.evaluate(
        """async (area) => {
            const parts = [];
            for (const img of area.querySelectorAll("img")) {
                if (!img.src) continue;
                const bytes = await (await fetch(img.src)).arrayBuffer();
                const hash = await crypto.subtle.digest("SHA-256", bytes);
                parts.push([...new Uint8Array(hash)].map(b => b.toString(16)).join(""));
            }
            return parts.join(",");
        }""")


def kernel_idle(page, front_end: str) -> bool:
    """Whether the front end shows its kernel idle."""
    if front_end == "lab":
        return page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count() > 0
    return page.locator("#kernel_indicator_icon.kernel_idle_icon").count() > 0


def wait_for_new_picture(page, front_end: str, output, before: str, timeout: float) -> str:
    """The picture's fingerprint once it differs from `before`; `before` itself if the kernel
    went idle and stayed so for 5 s with the picture unchanged, or after `timeout` s."""
    start = time.monotonic()
    idle_since = None
    while time.monotonic() - start < timeout:
        time.sleep(0.5)
        now = picture_digest(output)
        if now != before:
            time.sleep(0.5)  # a picture replaced in two steps: take the last one
            return picture_digest(output)
        if kernel_idle(page, front_end) and time.monotonic() - start > 2:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 5:
                return before
        else:
            idle_since = None
    return before


def label_of(control) -> str:
    """The control's description as shown, or its kind when it has none."""
    label = control.locator(".widget-label").first
    text = label.inner_text().strip() if label.count() else ""
    kind = control.get_attribute("class") or ""
    kind = next((k for k in ("slider", "dropdown", "toggle-buttons", "checkbox")
                 if f"widget-{k}" in kind), "control")
    return f"{kind} {text!r}" if text else kind


def change(control, attempt: int) -> str:
    """Change `control` as a person would (the `attempt`-th other value) and say how."""
    kind = control.get_attribute("class") or ""
    if "widget-dropdown" in kind:
        select = control.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.selectedIndex")
        pick = (current + attempt) % len(options)
        select.select_option(index=pick)
        return f"picked {options[pick].replace(NBSP, ' ')!r}"
    if "widget-toggle-buttons" in kind:
        others = control.locator("button:not(.mod-active)")
        pick = others.nth((attempt - 1) % others.count())
        text = pick.inner_text().strip() or pick.get_attribute("title") or "?"
        text = text.replace(NBSP, " ")
        pick.click()
        return f"clicked {text!r}"
    if "widget-checkbox" in kind:
        control.locator("input").click()
        return "toggled"
    # A slider: its handle (noUiSlider in ipywidgets 8, jQuery UI in 7) takes the arrow keys.
    handle = control.locator(".noUi-handle, .ui-slider-handle").first
    handle.focus()
    handle.press("ArrowRight" if attempt % 2 else "ArrowLeft")
    readout = control.locator(".widget-readout").first
    return f"moved to {readout.inner_text().strip()!r}" if readout.count() else "moved"


def exercise_explorer(page, front_end: str, report: Report, shots: Path,
                      per_change: float) -> None:
    """Find the explorer's controls and picture; change each control (up to three values,
    since one new value may draw the same figure: the true class when it is the predicted
    one) and check that the picture changes."""
    cells = explorer_cells(page, front_end)
    if not cells:
        report.problems.append("the explorer shows no controls (no slider, dropdown, toggle "
                               "buttons or check box in any cell's output)")
        return
    if len(cells) > 1:
        report.problems.append(f"{len(cells)} cells show controls; expected one explorer")
    output = cells[0].locator(SELECTORS[front_end]["output"]).first
    output.scroll_into_view_if_needed()
    report.shots.append(shoot(output, shots / f"{front_end}-explorer-start.png"))
    digest = picture_digest(output)
    if not digest:
        report.problems.append("the explorer shows no picture")
        return
    controls = output.locator(CONTROLS)
    for i in range(controls.count()):
        control = controls.nth(i)
        name = label_of(control)
        tries = []
        for attempt in (1, 2, 3):
            tries.append(change(control, attempt))
            new = wait_for_new_picture(page, front_end, output, digest, per_change)
            if new != digest:
                digest = new
                report.controls.append(f"{name}: {' (same picture), '.join(tries)}: "
                                       "picture changed")
                break
        else:
            report.problems.append(f"{name}: the picture stayed the same ({'; '.join(tries)})")
    report.shots.append(shoot(output, shots / f"{front_end}-explorer-end.png"))


def first_line(text: str) -> str:
    """A browser message's first line (a stack trace follows it), at most 200 characters."""
    return (text.strip().splitlines() or [""])[0][:200]


def shoot(target, path: Path) -> Path:
    """A screenshot of `target` (a page or an element) saved to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(path))
    return path


def failure_shots(page, front_end: str, shown: list[int], shots: Path) -> list[Path]:
    """The window, scrolled to the first of the code cells `shown` if any, and that cell."""
    saved = []
    cells = page.locator(SELECTORS[front_end]["cell"])
    try:
        if shown and cells.count() > shown[0]:
            cell = cells.nth(shown[0])
            cell.scroll_into_view_if_needed()
            saved.append(shoot(cell, shots / f"{front_end}-failure-cell.png"))
    except Exception:  # a page in trouble: keep the window's picture at least
        pass
    saved.append(shoot(page, shots / f"{front_end}-failure.png"))
    return saved


def check(front_end: str, python: str, run_dir: Path, shots: Path, chromium: str = CHROMIUM,
          run_timeout: float = 900, per_change: float = 60) -> Report:
    """Serve a copy of notebook 05 with `python`'s `front_end`, Run All in Chromium, check the
    outputs and the explorer. The copy lives in a scratch folder: the repository's notebook is
    never written."""
    from playwright.sync_api import sync_playwright

    report = Report(front_end)
    shown: list[int] = []  # the code cells a failure's screenshot shows
    home = Path(tempfile.mkdtemp(prefix=f"eraskit-browser-{front_end}-"))
    root = home / "notebooks"
    root.mkdir()
    notebook = Path(shutil.copy(NOTEBOOK, root / NOTEBOOK.name))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(home / "server.log", "w")
    server = subprocess.Popen(server_command(python, front_end, port, root), cwd=root,
                              env=kernel_env(python, run_dir, home), stdout=log,
                              stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        wait_for_server(url, server)
        report.seconds["server"] = time.monotonic() - started
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: m.type == "error" and report.console_errors.append(
                first_line(m.text)))
            page.on("pageerror", lambda e: report.console_errors.append(first_line(str(e))))
            try:
                mark = time.monotonic()
                open_notebook(page, url, front_end, notebook.name)
                report.seconds["open"] = time.monotonic() - mark
                mark = time.monotonic()
                unrun = run_all(page, front_end, run_timeout)
                if unrun:
                    report.problems.append(f"{len(unrun)} code cell(s) did not run")
                report.seconds["run all"] = time.monotonic() - mark
                saved = save(page, front_end, notebook)
                report.problems += error_outputs(saved)
                # where a failure's screenshot looks: the explorer's cell, else the first error
                shown = cells_showing(saved, WIDGET_VIEW) or cells_showing(saved, "error")
                page_text = page.locator("body").inner_text()
                report.problems += sorted({f"the page shows {m.group(0)!r}"
                                           for m in WIDGET_ERRORS.finditer(page_text)})
                report.problems += sorted({f"the browser logged {text!r}"
                                           for text in report.console_errors
                                           if WIDGET_ERRORS.search(text)})
                mark = time.monotonic()
                exercise_explorer(page, front_end, report, shots, per_change)
                report.seconds["explorer"] = time.monotonic() - mark
            except Exception as error:  # a time-out or a missing element: report, then shoot
                report.problems.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")
            if report.problems:
                report.shots += failure_shots(page, front_end, shown, shots)
            browser.close()
    except Exception as error:
        report.problems.append(f"{type(error).__name__}: {error}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if report.problems:
            report.problems.append(f"server log: {home / 'server.log'}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return report


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--front-end", choices=FRONT_ENDS, default="lab")
    parser.add_argument("--python", default=sys.executable,
                        help="the environment serving the notebook and running its kernel")
    parser.add_argument("--run-dir", type=Path,
                        help="a trained run for notebook 05 (default: train a smoke run)")
    parser.add_argument("--data", default=os.environ.get("ERASKIT_DATA"),
                        help="the .npz to train the smoke run on (default: $ERASKIT_DATA)")
    parser.add_argument("--shots", type=Path, default=Path("browser-shots"),
                        help="the folder for screenshots")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = train_smoke_run(args.python, Path(tempfile.mkdtemp()) / "resnet18", args.data)
    report = check(args.front_end, args.python, run_dir.resolve(), args.shots.resolve(),
                   args.chromium)
    for line in report.controls:
        print(f"{args.front_end}: {line}")
    print(f"{args.front_end}: seconds " + ", ".join(
        f"{k} {v:.0f}" for k, v in report.seconds.items()))
    for line in report.console_errors:
        print(f"{args.front_end}: browser console: {line}")
    for line in report.problems:
        print(f"{args.front_end}: FAIL {line}")
    print(f"{args.front_end}: screenshots: {', '.join(str(p) for p in report.shots)}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
