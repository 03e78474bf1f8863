"""The service worker's app shell (SHELL_FILES in handheld_pwa/sw.js) is every file the pages load, and only those.

The list is kept by hand: a module missing from it is not there offline, and a
listed file that is gone fails the whole install (cache.addAll is all or
nothing). The pages' loads are found by walking them from the two entry pages:
<script src> and <link href> in HTML, the manifest's icons, and every relative
module specifier in the JS (static imports, and the screens app-shell.js
imports when first shown).
"""

import json
import re
from pathlib import Path, PurePosixPath

PWA_DIR = Path(__file__).resolve().parents[2] / "handheld_pwa"
SERVICE_WORKER = "sw.js"
ENTRY_PAGES = ("index.html", "wall/index.html")  # the shell answers navigations with these two

HTML_LOAD = re.compile(r"""<(?:script\b[^>]*\ssrc|link\b[^>]*\shref)\s*=\s*["']([^"']+)["']""")
# A quoted relative path to a module: `import … from "./x.js"`, `import "../lib/x.js"`, `module: "./x.js"`.
JS_MODULE = re.compile(r"""["'](\.{1,2}/[^"'\s]+\.m?js)["']""")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def shell_files() -> list[str]:
    """SHELL_FILES as written in sw.js, in order."""
    source = (PWA_DIR / SERVICE_WORKER).read_text()
    block = re.search(r"const SHELL_FILES = \[(.*?)\];", source, re.DOTALL)
    assert block, "sw.js has no `const SHELL_FILES = [...];`"
    return re.findall(r"""["']([^"']+)["']""", block.group(1))


def served_path(entry: str) -> str:
    """The file StaticFiles(html=True) answers for a shell entry: a directory is its index.html."""
    return entry + "index.html" if entry == "./" or entry.endswith("/") else entry


def resolve(referrer: str, reference: str) -> str:
    """`reference` as written in the file `referrer` (both relative to handheld_pwa/), as a path under handheld_pwa/."""
    parts: list[str] = []
    for part in (PurePosixPath(referrer).parent / reference.split("?")[0].split("#")[0]).parts:
        if part == "..":
            assert parts, f"{referrer} loads {reference}, outside handheld_pwa/"
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def references(path: str) -> set[str]:
    """The files that loading `path` loads next (paths under handheld_pwa/)."""
    file = PWA_DIR / path
    if path.endswith(".html"):
        found = HTML_LOAD.findall(file.read_text())
    elif path.endswith(".webmanifest"):
        found = [icon["src"] for icon in json.loads(file.read_text()).get("icons", [])]
    elif path.endswith(".js"):
        found = JS_MODULE.findall(LINE_COMMENT.sub("", BLOCK_COMMENT.sub("", file.read_text())))
    else:
        found = []  # icons; and the stylesheets here load nothing further (no url() or @import)
    return {resolve(path, ref) for ref in found if not re.match(r"^[a-z]+:|^/", ref)}


def loaded_by_pages() -> set[str]:
    """Every file under handheld_pwa/ that the entry pages load, directly or through what they load."""
    seen: set[str] = set()
    todo = list(ENTRY_PAGES)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        assert (PWA_DIR / path).is_file(), f"{path} is loaded by the pages but is not under handheld_pwa/"
        todo.extend(references(path) - seen)
    return seen


def test_every_file_the_pages_load_is_in_the_shell() -> None:
    listed = {served_path(entry) for entry in shell_files()}
    missing = sorted(loaded_by_pages() - listed)
    assert missing == [], f"add to SHELL_FILES in sw.js (and bump SHELL_VERSION): {missing}"


def test_every_shell_entry_is_a_file_that_is_served() -> None:
    gone = [entry for entry in shell_files() if not (PWA_DIR / served_path(entry)).is_file()]
    assert gone == [], f"SHELL_FILES lists files that are not under handheld_pwa/ (install would fail): {gone}"


def test_the_shell_lists_each_file_once_and_both_entry_pages_by_their_directory() -> None:
    entries = shell_files()
    assert len(entries) == len(set(entries)), [e for e in entries if entries.count(e) > 1]
    assert {"./", "wall/"} <= set(entries)  # navigations to /app/ and /app/wall/ are cached under these URLs


def test_every_shipped_file_is_reached_by_the_walk() -> None:
    # A file the walk does not reach is dead, or loaded in a way the walk does not know: either way, look.
    shipped = {p.relative_to(PWA_DIR).as_posix() for p in PWA_DIR.rglob("*") if p.is_file()}
    assert sorted(shipped - loaded_by_pages() - {SERVICE_WORKER}) == []


def test_the_shell_version_is_a_plain_name() -> None:
    # The browser tests read it with this pattern to name the cache (wes-shell-<version>).
    source = (PWA_DIR / SERVICE_WORKER).read_text()
    assert re.search(r'const SHELL_VERSION = "(\w+)";', source)
    assert "const SHELL_CACHE = `wes-shell-${SHELL_VERSION}`;" in source
