"""The bundle (build/build_bundle.py) used as a library by another app in real Chromium: the
example page (examples/browser-import/, served apart from the app's site) imports it from
another origin, from its own origin with the files elsewhere (baseUrl), and from a copy beside
it; each recalls its notes as natively, with the worker and every asset fetched from the
bundle's base URL."""
import importlib.util
import json
import urllib.parse

import pytest

import agentdb.memory
from conftest import ROOT

spec = importlib.util.spec_from_file_location("serve_example", ROOT / "examples" / "browser-import" / "serve.py")
serve_example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(serve_example)
VENDOR = serve_example.VENDOR


@pytest.fixture(scope="module")
def bundle(site_url, tmp_path_factory):
    import build_bundle        # build/ is on sys.path once site_url has built the site
    import build_site

    # the runtime as build/run.sh builds it (agentdb.d.ts, which nothing runs, is tests/test_bundle.py's)
    return build_bundle.build(build_site.DIST, tmp_path_factory.mktemp("bundle"), types=False)


@pytest.fixture(scope="module")
def origins(bundle):
    """The example app's origin (the bundle copied under /vendor/agentdb-web/ too) and a CDN's
    (the bundle's parent folder, with CORS): their URLs."""
    app = serve_example.serve({"/": serve_example.HERE, VENDOR: bundle})
    cdn = serve_example.serve({"/": bundle.parent}, cors=True)
    yield serve_example.url_of(app), serve_example.url_of(cdn)
    for server in (app, cdn):
        server.shutdown()
        server.server_close()


def recalled(example):
    """The page's answers as natively: each question's best note, its id and similarity bits."""
    return [{k: a[k] for k in ("id", "text", "similarity")} for a in example["answers"]]


def native_answers(example):
    """What the Python package recalls for the page's notes and questions."""
    mem = agentdb.memory.open()
    for note in example["notes"]:
        mem.remember(note)
    return [{k: hit[k] for k in ("id", "text", "similarity")} for q in example["questions"] for hit in mem.recall(q, k=1)]


def run_example(browser, url, bundle, files_at, page_at):
    """Loads the example page at url until it has answered, checks its answers against the
    native ones and where it fetched what from (check_fetched); (page, its window.example, the
    URLs it fetched, its workers' URLs)."""
    context = browser.new_context()
    page = context.new_page()
    fetched, errors = [], []
    context.on("request", lambda request: fetched.append(request.url))
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url)
    page.wait_for_function("window.example && window.example.state !== 'loading'", timeout=120_000)
    example = page.evaluate("window.example")
    assert example["state"] == "done", example["error"]
    assert not errors, errors
    assert example["baseUrl"] == files_at and recalled(example) == native_answers(example)
    module = urllib.parse.urljoin(url, urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["bundle"][0])
    check_fetched(fetched, bundle, files_at, page_at, module)
    return page, example, fetched, [w.url for w in page.workers]


def check_fetched(fetched, bundle, files_at, page_at, module):
    """The page's own files came from page_at, agentdb.js from module (where it was imported
    from), the worker, the runtime and the model from the bundle's base URL files_at, and
    nothing from anywhere else."""
    manifest = json.loads((bundle / "package.json").read_text())
    runtime, models = files_at + manifest["agentdb"]["runtime"], files_at + manifest["agentdb"]["models"]
    wanted = {"worker.js", "storage.js", "lease.js", "agentdb.zip", "python.snapshot", "pyodide/pyodide.mjs",
              "pyodide/pyodide.asm.mjs", "pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip"}
    assert wanted <= {u[len(runtime):] for u in fetched if u.startswith(runtime)}
    assert {"manifest.json", "model.safetensors", "vocab.txt"} <= {u.rsplit("/", 1)[1] for u in fetched
                                                                   if u.startswith(models + "all-MiniLM-L6-v2/")}
    others = [u for u in fetched if not u.startswith((runtime, models))]
    assert module in fetched
    assert [u for u in others if u != module and not u.startswith((page_at, "blob:"))] == [], others


def test_an_app_on_another_origin_imports_the_bundle_from_a_cdn(browser, origins, bundle):
    app, cdn = origins
    at = f"{cdn}{bundle.name}/"
    page, example, fetched, workers = run_example(browser, f"{app}?bundle={at}agentdb.js", bundle, at, app)
    assert [a["text"] for a in example["answers"]] == example["notes"]      # each found by its paraphrase
    assert example["status"]["kernel"]["backend"] == "browser" and example["status"]["count"] == 3
    assert [w.startswith("blob:" + app.rstrip("/")) for w in workers] == [True]   # the page's origin imports it
    assert page.inner_text("#answers").count("\n") >= 2
    page.context.close()


def test_base_url_serves_the_runtime_from_elsewhere(browser, origins, bundle):
    app, cdn = origins
    at = f"{cdn}{bundle.name}/"
    page, _, fetched, _ = run_example(browser, f"{app}?bundle={VENDOR}agentdb.js&baseUrl={at}", bundle, at, app)
    assert f"{app}{VENDOR[1:]}agentdb.js" in fetched and f"{at}agentdb.js" not in fetched
    assert not [u for u in fetched if u.startswith(f"{app}{VENDOR[1:]}runtime-")]
    page.context.close()


def test_a_copy_in_the_apps_own_files(browser, origins, bundle):
    app, _ = origins
    at = f"{app}{VENDOR[1:]}"
    page, _, _, workers = run_example(browser, f"{app}?bundle={VENDOR}agentdb.js", bundle, at, app)
    runtime = json.loads((bundle / "package.json").read_text())["agentdb"]["runtime"]
    assert workers == [f"{at}{runtime}worker.js"]                  # same origin: the worker itself
    # a started worker cannot move
    error = page.evaluate("""async (url) => {
        const { AgentDB } = await import(url);
        try { AgentDB.configure({ baseUrl: "/elsewhere/" }); } catch (err) { return [err.name, err.message]; }
    }""", f"{at}agentdb.js")
    assert error[0] == "OptionError" and "before the first call" in error[1]
    page.context.close()
