"""The repository stands alone: no tracked file refers to a file outside it or to an issue
tracker by number, and every relative Markdown link resolves to a tracked file inside it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Built from parts so that this file does not match its own patterns.
OUTSIDE = re.compile(re.escape("../" + "shared") + "|" + re.escape("shared" + "/domain.md"))
ISSUE_NUMBER = re.compile(r"\bissue\s+#?\d+", re.IGNORECASE)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCED = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode("utf-8").split("\0") if p and (ROOT / p).is_file()]


def text_of(path: str) -> str | None:
    data = (ROOT / path).read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def outside_references(path: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern in (OUTSIDE, ISSUE_NUMBER):
            for match in pattern.finditer(line):
                found.append(f"{path}:{number}: {match.group(0)!r}")
    return found


def markdown_links(text: str) -> list[str]:
    """Link targets of a Markdown text, code blocks and inline code left out."""
    text = INLINE_CODE.sub("", FENCED.sub("", text))
    return LINK.findall(text)


def broken_links(path: str, text: str, tracked: set[str]) -> list[str]:
    """Relative links that leave the repository or name nothing tracked (anchors and URLs are not checked)."""
    broken = []
    for target in markdown_links(text):
        if re.match(r"^[a-zA-Z][\w+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor in the same document
        rel = target.split("#", 1)[0].split("?", 1)[0]
        base = PurePosixPath() if rel.startswith("/") else PurePosixPath(path).parent
        parts: list[str] = []
        for part in (base / rel.lstrip("/")).parts:
            if part == "..":
                if not parts:
                    parts = [".."]
                    break
                parts.pop()
            elif part != ".":
                parts.append(part)
        resolved = "/".join(parts)
        if parts[:1] == [".."]:
            broken.append(f"{path}: {target} leaves the repository")
        elif resolved not in tracked and not any(t.startswith(resolved + "/") for t in tracked):
            broken.append(f"{path}: {target} -> {resolved or '.'} is not a tracked file")
    return broken


def test_no_tracked_file_refers_outside_the_repository():
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            found += outside_references(path, text)
    assert found == []


def test_relative_markdown_links_resolve_inside_the_repository():
    files = tracked_files()
    tracked = set(files)
    markdown = [p for p in files if p.endswith(".md")]
    assert "README.md" in markdown and "docs/business_rules.md" in markdown
    broken = []
    for path in markdown:
        broken += broken_links(path, text_of(path) or "", tracked)
    assert broken == []


def test_the_checks_find_what_they_look_for():
    tracked = {"README.md", "docs/business_rules.md", "src/patient360/cli.py"}
    out = "../../" + "shared/notes.md"  # in parts, like the patterns
    text = (
        "[ok](business_rules.md) [dir](../src/patient360) [up](../README.md#quick-start) [web](https://example.org)\n"
        f"[out]({out}) [gone](missing.md) [root](/docs/nothing.md) `[code]({out})`\n"
        f"```\n[fenced]({out})\n```\n"
    )
    assert broken_links("docs/README.md", text, tracked) == [
        f"docs/README.md: {out} leaves the repository",
        "docs/README.md: missing.md -> docs/missing.md is not a tracked file",
        "docs/README.md: /docs/nothing.md -> docs/nothing.md is not a tracked file",
    ]
    issue = "Issue" + " 12"
    sample = f"see {out} and {issue}\nfine: issues with GX"
    assert outside_references("a.py", sample) == ["a.py:1: " + repr("../" + "shared"), f"a.py:1: {issue!r}"]
