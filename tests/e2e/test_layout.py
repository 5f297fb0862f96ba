"""The layout host/src/README.md promises, checked on the built objects: a
part calls only the parts its row of the README's table names, and no two
files call each other in a loop (directly or around a longer ring). Calls are
read from the symbols each object file defines and needs (nm), so a call
through a function pointer (a callback handed down) is not a call up."""
import collections
import glob
import os
import re
import subprocess


def read_rules(readme):
    """part -> set of parts it may call, from the README's table (rows in
    order from the bottom up: "everything below" means the rows above)."""
    order, rules = [], {}
    for line in open(readme, encoding="utf-8"):
        m = re.match(r"\|\s*`(\w+)/`\s*\|[^|]*\|\s*([^|]*)\|", line)
        if not m:
            continue
        part, may = m.group(1), m.group(2).strip()
        if may.startswith("nothing"):
            allowed = set()
        elif may == "everything below":
            allowed = set(order)
        elif may == "everything":
            allowed = None  # filled in once every part is known
        else:
            allowed = set(re.findall(r"`(\w+)/`", may))
        order.append(part)
        rules[part] = allowed
    for part, allowed in rules.items():
        if allowed is None:
            rules[part] = set(order) - {part}
    return rules


def read_calls(objdir, srcdir):
    """file -> {(file it calls, symbol)} for the host's own object files (those
    whose source is still there: a renamed file leaves its old object)."""
    defined, needed = {}, collections.defaultdict(set)
    objs = sorted(glob.glob(os.path.join(objdir, "**", "*.o"), recursive=True))
    assert objs, f"no object files under {objdir}; run make"
    for obj in objs:
        src = os.path.relpath(obj, objdir)[:-2] + ".c"
        if not os.path.exists(os.path.join(srcdir, src)):
            continue
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 2 and f[0] == "U":
                needed[src].add(f[1])
            elif len(f) == 3 and f[1] in "TDBRVW":
                defined.setdefault(f[2], src)
    calls = collections.defaultdict(set)
    for src, syms in needed.items():
        for sym in syms:
            dst = defined.get(sym)
            if dst and dst != src:
                calls[src].add((dst, sym))
    return calls


def loops(calls):
    """The groups of files that call each other in a loop (Tarjan)."""
    graph = {src: sorted({dst for dst, _ in out}) for src, out in calls.items()}
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_parts_call_only_what_the_readme_allows_and_files_never_loop(ctx):
    rules = read_rules(ctx.path("host", "src", "README.md"))
    assert {"core", "http", "runners", "triggers", "admin", "cli"} <= set(rules), rules
    parts_on_disk = {d for d in os.listdir(ctx.path("host", "src"))
                     if os.path.isdir(ctx.path("host", "src", d))}
    assert parts_on_disk == set(rules), \
        f"folders and the README's table differ: {sorted(parts_on_disk ^ set(rules))}"
    calls = read_calls(os.path.join(ctx.build, "host", "src"), ctx.path("host", "src"))
    assert len(calls) > 20, "too few object files read"
    wrong = []
    for src, out in sorted(calls.items()):
        for dst, sym in sorted(out):
            a, b = src.split("/")[0], dst.split("/")[0]
            if a != b and b not in rules[a]:
                wrong.append(f"{src} calls {sym} in {dst} ({a}/ may not call {b}/)")
    assert not wrong, "calls the README's table does not allow:\n  " + "\n  ".join(wrong)
    rings = loops(calls)
    detail = []
    for group in rings:
        members = set(group)
        detail += [f"{src} -> {dst}: {sym}" for src in group
                   for dst, sym in sorted(calls[src]) if dst in members]
    assert not rings, "files that call each other in a loop:\n  " + "\n  ".join(detail)
