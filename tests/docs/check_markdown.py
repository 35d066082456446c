#!/usr/bin/env python3
"""Checks the Markdown docs: every relative link and anchor resolves, and
every quoted snippet equals the source region it quotes.

A snippet is a line `<!-- snippet: PATH#NAME -->` right before a fenced code
block; PATH is relative to the repository root, and the region is the lines
between two lines that read `// [NAME]` (or `# [NAME]`) in that file, without
the common indentation. `--fix` rewrites the quoted blocks from the sources.

Links into the generated API reference (docs/api/html/...) are checked
against --api-html DIR, the output of `./dev docs` or of the test that runs
Doxygen; without it they are checked only where docs/api/html exists.

Exit code: 0 when all is well, 1 with one line per problem otherwise.
"""

import argparse
import html
import os
import re
import sys
import textwrap

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP_DIRS = {".git", "node_modules"}
API_HTML = os.path.join(ROOT, "docs", "api", "html")

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+\1", re.S)
HREF = re.compile(r"\bhref=\"([^\"]+)\"")
REF_USE = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])+)\]\[([^\]]*)\]")
# Doxygen's inputs: their HTML links are relative to the generated pages.
DOXYGEN_INPUTS = {os.path.join(ROOT, "docs", "api", "mainpage.md")}
HEADING_ID = re.compile(r"\s*\{#([\w-]+)\}\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)
HTML_ID = re.compile(r"\b(?:id|name)=\"([^\"]+)\"")
SNIPPET = re.compile(r"^<!--\s*snippet:\s*(\S+?)#(\S+)\s*-->\s*$")
LINE_ANCHOR = re.compile(r"^L(\d+)(?:-L(\d+))?$")


def markdown_files():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not d.startswith("build")
            and os.path.join(rel, d) != os.path.join("docs", "api", "html"))
        for name in sorted(filenames):
            if name.endswith(".md"):
                yield os.path.join(dirpath, name)


def slug(text):
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)                   # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def prose_lines(lines):
    """Yields (number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


_anchor_cache = {}


def anchors_of(path):
    if path in _anchor_cache:
        return _anchor_cache[path]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = set()
    if path.endswith((".html", ".htm")):
        found.update(HTML_ID.findall(text))
    else:
        seen = {}
        for _, line in prose_lines(text.splitlines()):
            m = HEADING.match(line)
            if m:
                title = m.group(2)
                explicit = HEADING_ID.search(title)  # Doxygen's {#id}
                if explicit:
                    found.add(explicit.group(1))
                    title = title[:explicit.start()]
                base = slug(title)
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ANCHOR.findall(line))
    _anchor_cache[path] = found
    return found


def paragraphs(lines):
    """Yields (first line's number, text) of each paragraph outside fenced
    code blocks, its lines joined, so that a link may wrap."""
    start, block = None, []
    last = None
    for number, line in prose_lines(lines):
        if not line.strip() or (last is not None and number != last + 1):
            if block:
                yield start, "\n".join(block)
            start, block = None, []
        if line.strip():
            if start is None:
                start = number
            block.append(line)
        last = number
    if block:
        yield start, "\n".join(block)


def label(text):
    return " ".join(text.split()).lower()


def check_link(source, number, target, api_html, problems, counts, base=None):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
        return  # absolute URLs are not checked: these machines are offline
    path, _, anchor = target.partition("#")
    path = html.unescape(path)
    where = f"{os.path.relpath(source, ROOT)}:{number}"
    if path:
        base = base or os.path.dirname(source)
        resolved = os.path.realpath(os.path.join(base, path))
    else:
        resolved = source
    if resolved == API_HTML or resolved.startswith(API_HTML + os.sep):
        if api_html is None and not os.path.isdir(API_HTML):
            counts["unchecked"] += 1
            return
        if api_html is not None:
            resolved = os.path.join(api_html, os.path.relpath(resolved, API_HTML))
    elif not (resolved == ROOT or resolved.startswith(ROOT + os.sep)):
        problems.append(f"{where}: link leaves the repository: {target}")
        return
    counts["checked"] += 1
    if not os.path.exists(resolved):
        problems.append(f"{where}: no such file: {target}")
        return
    if not anchor or os.path.isdir(resolved):
        return
    if resolved.endswith((".md", ".html", ".htm")):
        if anchor not in anchors_of(resolved):
            problems.append(f"{where}: no anchor #{anchor} in "
                            f"{os.path.relpath(resolved, ROOT)}")
        return
    m = LINE_ANCHOR.match(anchor)
    if not m:
        problems.append(f"{where}: anchor #{anchor} on a source file is not #Ln")
        return
    with open(resolved, encoding="utf-8", errors="replace") as f:
        length = sum(1 for _ in f)
    last = int(m.group(2) or m.group(1))
    if last > length:
        problems.append(f"{where}: {target} is past the end ({length} lines)")


def region(path, name):
    """The lines between the two `// [name]` markers in path, dedented."""
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
        return None, f"no such file: {path}"
    with open(full, encoding="utf-8") as f:
        lines = f.read().splitlines()
    markers = [i for i, line in enumerate(lines)
               if line.strip() in (f"// [{name}]", f"# [{name}]")]
    if len(markers) != 2:
        return None, (f"{path} has {len(markers)} `// [{name}]` markers, "
                      "not 2")
    body = "\n".join(lines[markers[0] + 1:markers[1]])
    return textwrap.dedent(body).strip("\n").splitlines(), None


def check_snippets(source, lines, fix, problems):
    """Returns the file's lines, rewritten where --fix changed a quote."""
    out = []
    i = 0
    changed = False
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = SNIPPET.match(line.strip())
        i += 1
        if not m:
            continue
        where = f"{os.path.relpath(source, ROOT)}:{i}"
        want, error = region(m.group(1), m.group(2))
        if error:
            problems.append(f"{where}: snippet {m.group(1)}#{m.group(2)}: {error}")
            continue
        if i >= len(lines) or not FENCE.match(lines[i]):
            problems.append(f"{where}: snippet marker not followed by a code block")
            continue
        fence = FENCE.match(lines[i]).group(1)
        out.append(lines[i])
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if end == len(lines):
            problems.append(f"{where}: unterminated code block")
            out.extend(lines[i + 1:])
            break
        have = lines[i + 1:end]
        if have != want:
            if fix:
                changed = True
            else:
                problems.append(f"{where}: snippet {m.group(1)}#{m.group(2)} "
                                "differs from the source (--fix rewrites it)")
        out.extend(want if fix else have)
        out.append(lines[end])
        i = end + 1
    return out, changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-html", help="the generated API reference's html/")
    parser.add_argument("--fix", action="store_true",
                        help="rewrite quoted snippets from their sources")
    args = parser.parse_args()
    api_html = os.path.realpath(args.api_html) if args.api_html else None
    if api_html is not None and not os.path.isdir(api_html):
        print(f"check_markdown: no API reference at {api_html}")
        return 1

    problems = []
    counts = {"checked": 0, "unchecked": 0, "files": 0, "snippets": 0}
    for source in markdown_files():
        counts["files"] += 1
        with open(source, encoding="utf-8") as f:
            text = f.read()
        lines = text.splitlines()
        counts["snippets"] += sum(1 for l in lines if SNIPPET.match(l.strip()))
        new_lines, changed = check_snippets(source, lines, args.fix, problems)
        if changed:
            with open(source, "w", encoding="utf-8") as f:
                f.write("\n".join(new_lines) + "\n")
            print(f"check_markdown: rewrote snippets in {os.path.relpath(source, ROOT)}")
        html_base = API_HTML if source in DOXYGEN_INPUTS else None
        definitions = set()
        uses = []
        for start, text in paragraphs(new_lines):
            # Inline code holds no links; blank it out, keeping the offsets.
            text = INLINE_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                                   text)
            line_of = lambda offset: start + text.count("\n", 0, offset)
            for m in LINK.finditer(text):
                check_link(source, line_of(m.start()), m.group(1), api_html,
                           problems, counts)
            for m in HREF.finditer(text):
                check_link(source, line_of(m.start()), m.group(1), api_html,
                           problems, counts, html_base)
            for i, line in enumerate(text.split("\n")):
                m = REF_DEF.match(line)
                if m:
                    definitions.add(label(line[line.index("[") + 1:
                                               line.index("]:")]))
                    check_link(source, start + i, m.group(1), api_html,
                               problems, counts)
            for m in REF_USE.finditer(text):
                uses.append((line_of(m.start()), label(m.group(2) or m.group(1))))
        for number, name in uses:
            if name not in definitions:
                problems.append(f"{os.path.relpath(source, ROOT)}:{number}: "
                                f"reference link [{name}] is not defined")

    for problem in problems:
        print(problem)
    print(f"check_markdown: {counts['files']} files, {counts['checked']} links "
          f"and {counts['snippets']} snippets checked"
          + (f", {counts['unchecked']} links into docs/api/html not checked "
             "(run ./dev docs)" if counts["unchecked"] else "")
          + f": {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
