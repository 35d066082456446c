#!/usr/bin/env python3
"""Builds the API reference with Doxygen (docs/api/Doxyfile) into OUT and
fails on any Doxygen warning, an undocumented public name among them. Then
checks what Doxygen does not warn about: an undocumented enumerator.

Usage: check_api_reference.py OUT   (the reference is then OUT/html/)
"""

import glob
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def text_of(node):
    return "".join(node.itertext()).strip() if node is not None else ""


def undocumented_enumerators(xml_dir):
    found = []
    for path in sorted(glob.glob(os.path.join(xml_dir, "*.xml"))):
        for enum in ET.parse(path).iter("memberdef"):
            if enum.get("kind") != "enum":
                continue
            for value in enum.iter("enumvalue"):
                if not (text_of(value.find("briefdescription"))
                        or text_of(value.find("detaileddescription"))):
                    location = enum.find("location")
                    where = (f"{location.get('file')}:{location.get('line')}"
                             if location is not None else path)
                    found.append(f"{where}: enumerator "
                                 f"{text_of(enum.find('qualifiedname'))}::"
                                 f"{text_of(value.find('name'))} is not documented")
    return sorted(set(found))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = os.path.realpath(sys.argv[1])
    doxygen = shutil.which("doxygen")
    if doxygen is None:
        print("check_api_reference: doxygen is not installed "
              "(./dev test and ./dev docs install it)")
        return 1
    # A page left from an earlier run would keep a stale link alive.
    for generated in ("html", "xml"):
        shutil.rmtree(os.path.join(out, generated), ignore_errors=True)
    os.makedirs(out, exist_ok=True)  # Doxygen makes one level, not a path
    # The XML is for the enumerator check only.
    config = open(os.path.join(ROOT, "docs", "api", "Doxyfile")).read()
    config += f"\nGENERATE_XML = YES\nXML_OUTPUT = {os.path.join(out, 'xml')}\n"
    run = subprocess.run([doxygen, "-"], input=config, text=True, cwd=ROOT,
                         env=dict(os.environ, TRELLIS_API_OUT=out))
    if run.returncode != 0:
        print(f"check_api_reference: doxygen failed ({run.returncode}): "
              "see its warnings above")
        return 1
    problems = undocumented_enumerators(os.path.join(out, "xml"))
    for problem in problems:
        print(problem)
    print(f"check_api_reference: {out}/html/index.html, "
          f"{len(problems)} undocumented enumerator(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
