"""The demo page walked as a user does, by keyboard and mouse: remember, search, filter,
delete, export, import and search the import, switch back, load the sample (twice). Each step
leaves a screenshot in e2e/artifacts/walk-*.png."""
import re

import agentdb
from e2e_paths import ARTIFACTS

MEMORIES = [("Water the tomato plants on Monday", "home, garden"),
            ("The flight to Tokyo was delayed by three hours", "travel"),
            ("Pay the electricity bill before Friday", "money, home")]


def status(page):
    return page.inner_text("#store-status")


def wait_status(page, pattern, timeout=30_000):
    page.wait_for_function("p => new RegExp(p).test(document.getElementById('store-status').textContent)",
                           arg=pattern, timeout=timeout)


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"walk-{name}.png"), full_page=True)


def results(page):
    """The result table: its header and one [memory, tags, similarity] per row."""
    rows = page.locator("#store-results tr")
    return [rows.nth(i).locator("th, td").all_inner_texts()[:3] for i in range(rows.count())]


def megabytes(stats):
    """The stats line's {"vectors": MB, "graph": MB}."""
    return {part: float(re.search(part + r" ([\d.]+) MB", stats).group(1)) for part in ("vectors", "graph")}


def search(page, text, tag=""):
    page.fill("#search-text", text)
    page.fill("#search-tag", tag)
    page.press("#search-text", "Enter")
    wait_status(page, "(match|matches|No matches) for")


def test_a_user_walks_the_demo_page(page, tmp_path):
    assert page.inner_text("#search-label") == "Search by meaning (all-MiniLM-L6-v2)"
    # remember: the first by Ctrl+Enter in the text box, the others with the button
    for i, (text, tags) in enumerate(MEMORIES):
        page.fill("#memory-text", text)
        page.fill("#memory-tags", tags)
        if i == 0:
            page.press("#memory-text", "Control+Enter")
        else:
            page.click("#remember")
        page.wait_for_function("n => document.getElementById('stats').textContent.startsWith(n)",
                               arg=f"{i + 1} {'memory' if i == 0 else 'memories'} ·", timeout=60_000)
    assert status(page) == "Remembered." and page.input_value("#memory-text") == ""
    shot(page, "1-remembered")

    # search by meaning: a header, similarities, nothing below the cut-off
    search(page, "plane trip to japan ran late")
    table = results(page)
    assert table[0] == ["Memory", "Tags", "Similarity"]
    assert table[1][0] == MEMORIES[1][0] and table[1][1] == "travel"
    assert all(float(row[2]) >= 0.2 for row in table[1:])
    assert re.fullmatch(r"\d matche?s? for “plane trip to japan ran late”\.", status(page))
    shot(page, "2-search")

    # filter by tag; a tag nobody has says so instead of showing an empty table
    search(page, "chores around the house", "home")
    assert {row[0] for row in results(page)[1:]} <= {MEMORIES[0][0], MEMORIES[2][0]}
    search(page, "chores around the house", "nosuchtag")
    assert status(page).startswith("No matches for “chores around the house”")
    assert page.locator("#store-results tr").count() == 0
    shot(page, "3-no-matches")

    # delete by the button named after the memory's text
    search(page, "watering the garden")
    page.get_by_role("button", name=f"Delete “{MEMORIES[0][0]}”").click()
    wait_status(page, "^Deleted “Water the tomato plants on Monday”\\.$")
    page.wait_for_function("document.getElementById('stats').textContent.startsWith('2 memories')", timeout=30_000)
    search(page, "watering the garden")
    assert MEMORIES[0][0] not in page.inner_text("#store-results")
    shot(page, "4-deleted")

    # export: the download is a real .rvf that opens natively with both memories and their text
    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "notebook.rvf"
    download.value.save_as(path)
    wait_status(page, "^Exported notebook\\.rvf")
    native = agentdb.open_bytes(path.read_bytes())
    assert native.status()["count"] == 2
    assert sorted(native.get(i).metadata["text"] for i in native.ids()) == sorted(t for t, _ in MEMORIES[1:])

    # import it: the page switches to it, and it is searched by meaning too
    page.set_input_files("#import", str(path))
    wait_status(page, "^Imported notebook\\.rvf: 2 memories")
    assert page.eval_on_selector("#store-view", "s => s.selectedOptions[0].text") == "notebook.rvf (imported)"
    page.fill("#memory-text", "Buy stamps at the post office")      # remembered in the import only
    page.click("#remember")
    wait_status(page, "^Remembered\\.$")
    search(page, "mail a letter")
    assert results(page)[1][0] == "Buy stamps at the post office"
    shot(page, "5-imported")

    # and back to the notebook, which does not have the import's new memory
    page.select_option("#store-view", "notes")
    wait_status(page, "^Showing the notebook\\.$")
    page.wait_for_function("document.getElementById('stats').textContent.startsWith('2 memories')", timeout=30_000)
    search(page, "mail a letter")
    assert "Buy stamps" not in page.inner_text("#store-results")

    # the 10k sample; loading it again replaces it and the stats do not double
    page.click("#sample")
    wait_status(page, "^Loaded 10,000 sample memories\\.$", timeout=180_000)
    page.wait_for_function("document.getElementById('stats').textContent.startsWith('10,002 memories')",
                           timeout=30_000)
    once = megabytes(page.inner_text("#stats"))
    shot(page, "6-sample")
    page.click("#sample")
    wait_status(page, "^Loaded 10,000 sample memories \\(it replaced 10,000 sample memories loaded before\\)\\.$",
                timeout=180_000)
    again = megabytes(page.inner_text("#stats"))
    assert again["vectors"] == once["vectors"] and again["graph"] <= once["graph"] * 1.1, (once, again)
    search(page, "water the garden soon", "home")
    table = results(page)
    assert len(table) == 11 and all("home" in row[1] for row in table[1:])
    shot(page, "7-sample-again")
