#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""header-man.py HEADER OUT.rst: the man page source of one public header.

NAME is the first line of the header's leading comment, DESCRIPTION the
whole comment, SYNOPSIS every declaration of a cell_* function, all taken
from the header itself so the page cannot drift from it.
"""
import re
import sys

src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
base = src.rsplit("/", 1)[-1]
page = "cell_" + base

comments = re.findall(r"/\*(.*?)\*/", text, re.S)
lead = ""
for c in comments:
    if "SPDX-License-Identifier" not in c:
        lead = c
        break
lines = [re.sub(r"^\s*\* ?", "", l).rstrip() for l in lead.splitlines()]
while lines and not lines[0]:
    lines.pop(0)
summary = lines[0].rstrip(".") if lines else base

# Declarations: from a line starting a type to the ';', without bodies.
body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
body = re.sub(r"//[^\n]*", "", body)
decls = []
for m in re.finditer(r"^[A-Za-z_][^;{}#]*?\b(cell_[a-z0-9_]+)\s*\([^;{}]*\)\s*;", body, re.M):
    d = " ".join(m.group(0).split())
    if not d.startswith(("typedef", "return", "if ", "static ")):
        decls.append(d)
if not decls:
    decls = ["(macros and types only; see DESCRIPTION)"]

title = f"{page}"
with open(out, "w", encoding="utf-8") as f:
    f.write("=" * len(title) + f"\n{title}\n" + "=" * len(title) + "\n\n")
    sub = summary.replace("\\", "\\\\")
    f.write("-" * len(sub) + f"\n{sub}\n" + "-" * len(sub) + "\n\n")
    f.write(":Manual section: 3\n:Manual group: Cell\n\n")
    f.write("SYNOPSIS\n========\n\n")
    f.write(f"**#include <cell/{base}>**\n\n::\n\n")
    for d in decls:
        f.write(f"    {d}\n")
    f.write("\nLink with ``pkg-config --libs libcell``.\n\n")
    f.write("DESCRIPTION\n===========\n\n::\n\n")
    for l in lines:
        f.write(f"    {l}\n" if l else "\n")
    f.write("\nSEE ALSO\n========\n\n**libcell**\\(3)\n")
