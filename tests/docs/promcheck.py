#!/usr/bin/env python3
"""promcheck: a strict checker of the Prometheus text exposition format 0.0.4.

Usage: promcheck.py [FILE]      (standard input without FILE or with "-")

Prints one "FILE:LINE: problem" per problem on stderr and exits 1 when there
is any, else exits 0 silently. Stricter than Prometheus's own parser where
it accepts several spellings: it takes the canonical form writers should
emit (what it accepts, every scraper accepts):

  - lines end in "\\n", no "\\r", no trailing blanks, last line terminated;
  - "# HELP name text" and "# TYPE name type", each once per family, both
    before the family's first sample; a family's samples are contiguous;
    every family has both lines; TYPE is counter, gauge, histogram,
    summary or untyped; HELP text escapes only "\\\\" and "\\n";
  - sample: name[{label="value",...}] value [timestamp], single spaces;
    metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
    and not "__"-prefixed, no label twice, no trailing comma; label values
    valid UTF-8 escaping only "\\\\", "\\"" and "\\n"; values are Go floats
    (NaN, +Inf, -Inf allowed); timestamps are integers;
  - a sample's name belongs to its family (X; X_bucket, X_sum, X_count for
    a histogram; X, X_sum, X_count for a summary); no series twice;
  - counters: name ends in _total, value >= 0 and not NaN;
  - histograms, per label set: every bucket has "le", le values strictly
    increasing, counts non-decreasing, an le="+Inf" bucket equal to
    _count, and _sum and _count present; no "le" elsewhere;
  - summaries: "quantile" in [0, 1] on X samples, _sum and _count present.
"""
import math
import re
import sys

METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)\Z")
TS_RE = re.compile(r"-?\d+\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Family:
    def __init__(self, name, line):
        self.name = name
        self.first_line = line
        self.help = None
        self.type = None
        self.samples = []  # (line, name, labels dict, value)
        self.closed = False  # another family started after this one had samples


def parse_float(text):
    if not FLOAT_RE.match(text):
        return None
    return float(text)


def unescape_help(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "\\n":
                raise ValueError("invalid escape in HELP text at column %d" % (i + 1))
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_labels(text, pos):
    """Parse from text[pos] == "{"; return (labels, list order, pos after "}")."""
    labels, order = {}, []
    assert text[pos] == "{"
    pos += 1
    if pos < len(text) and text[pos] == "}":
        return labels, order, pos + 1
    while True:
        m = LABEL_RE.match(text, pos)
        if not m:
            raise ValueError("invalid label name at column %d" % (pos + 1))
        name = m.group(0)
        if name.startswith("__"):
            raise ValueError('label name "%s" is reserved (starts with "__")' % name)
        pos = m.end()
        if text[pos:pos + 2] != '="':
            raise ValueError('expected =" after label "%s" at column %d' % (name, pos + 1))
        pos += 2
        val = []
        while True:
            if pos >= len(text):
                raise ValueError('unterminated value of label "%s"' % name)
            c = text[pos]
            if c == "\\":
                nxt = text[pos + 1] if pos + 1 < len(text) else ""
                if nxt not in ('\\', '"', "n"):
                    raise ValueError('invalid escape "\\%s" in value of label "%s"' % (nxt, name))
                val.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                val.append(c)
                pos += 1
        if name in labels:
            raise ValueError('label "%s" given twice' % name)
        labels[name] = "".join(val)
        order.append(name)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            if pos < len(text) and text[pos] == "}":
                raise ValueError("trailing comma in label set")
            continue
        if pos < len(text) and text[pos] == "}":
            return labels, order, pos + 1
        raise ValueError("expected , or } at column %d" % (pos + 1))


def family_of(sample_name, families):
    """The declared family a sample name belongs to, or None."""
    if sample_name in families:
        return families[sample_name]
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[: -len(suffix)]
            f = families.get(base)
            if f and (f.type == "histogram" or (f.type == "summary" and suffix != "_bucket")):
                return f
    return None


def check(data, fname="<stdin>"):
    """Return a list of "FILE:LINE: problem" strings."""
    errs = []

    def err(line, msg):
        errs.append("%s:%d: %s" % (fname, line, msg))

    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as e:
        return ["%s:%d: not UTF-8 (%s)" % (fname, data[: e.start].count(b"\n") + 1, e.reason)]
    if "\r" in text:
        err(text[: text.index("\r")].count("\n") + 1, "carriage return (lines end in \\n only)")
    if text and not text.endswith("\n"):
        err(text.count("\n") + 1, "last line is not terminated by a newline")
    if not text.strip():
        err(1, "no metrics at all")
        return errs

    families = {}
    current = None  # family the last sample or header belonged to
    seen_series = {}

    for lineno, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        if line == "":
            continue
        if line != line.rstrip(" \t"):
            err(lineno, "trailing whitespace")
            line = line.rstrip(" \t")
        if line.startswith("#"):
            if not (line.startswith("# HELP ") or line.startswith("# TYPE ")):
                if re.match(r"#\s*(HELP|TYPE)\b", line):
                    err(lineno, 'malformed HELP/TYPE line (want "# HELP name text")')
                continue  # other comments are allowed
            parts = line.split(" ", 3)
            kind = parts[1]
            if len(parts) < 3 or not parts[2]:
                err(lineno, "%s without a metric name" % kind)
                continue
            name = parts[2]
            if not METRIC_RE.fullmatch(name):
                err(lineno, 'invalid metric name "%s" in %s' % (name, kind))
                continue
            f = families.get(name)
            if f is None:
                f = families[name] = Family(name, lineno)
            if f.samples:
                err(lineno, '%s for "%s" after its samples' % (kind, name))
            if current is not None and current is not f and current.samples:
                current.closed = True
            current = f
            if kind == "HELP":
                if f.help is not None:
                    err(lineno, 'second HELP for "%s"' % name)
                try:
                    f.help = unescape_help(parts[3] if len(parts) > 3 else "")
                except ValueError as e:
                    err(lineno, str(e))
                    f.help = ""
            else:
                t = parts[3] if len(parts) > 3 else ""
                if f.type is not None:
                    err(lineno, 'second TYPE for "%s"' % name)
                elif t not in TYPES:
                    err(lineno, 'unknown TYPE "%s" for "%s"' % (t, name))
                    f.type = "untyped"
                else:
                    f.type = t
            continue

        # a sample
        m = METRIC_RE.match(line)
        if not m:
            err(lineno, "invalid metric name at start of sample")
            continue
        name = m.group(0)
        pos = m.end()
        labels, order = {}, []
        try:
            if pos < len(line) and line[pos] == "{":
                labels, order, pos = parse_labels(line, pos)
        except ValueError as e:
            err(lineno, "%s: %s" % (name, e))
            continue
        rest = line[pos:]
        if not rest.startswith(" ") or rest.startswith("  "):
            err(lineno, "%s: expected exactly one space before the value" % name)
            continue
        fields = rest[1:].split(" ")
        if len(fields) > 2 or "" in fields:
            err(lineno, "%s: expected 'value [timestamp]' after the name" % name)
            continue
        value = parse_float(fields[0])
        if value is None:
            err(lineno, '%s: invalid value "%s"' % (name, fields[0]))
            continue
        if len(fields) == 2 and not TS_RE.match(fields[1]):
            err(lineno, '%s: invalid timestamp "%s"' % (name, fields[1]))
            continue

        f = family_of(name, families)
        if f is None:
            err(lineno, '%s: sample without a TYPE line for its family' % name)
            f = families[name] = Family(name, lineno)
            f.type = "untyped"
            f.help = ""
        if f.help is None:
            err(lineno, '%s: family "%s" has no HELP line' % (name, f.name))
            f.help = ""
        if f.type is None:
            err(lineno, '%s: family "%s" has no TYPE line' % (name, f.name))
            f.type = "untyped"
        if current is not None and current is not f:
            if current.samples:
                current.closed = True
        if f.closed:
            err(lineno, '%s: samples of family "%s" are not contiguous' % (name, f.name))
            f.closed = False  # report once
        current = f

        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            err(lineno, "%s: duplicate series (first on line %d)" % (name, seen_series[key]))
        else:
            seen_series[key] = lineno
        f.samples.append((lineno, name, labels, value))

        if f.type == "counter":
            if not f.name.endswith("_total"):
                err(lineno, '%s: counter name should end in "_total"' % name)
            if math.isnan(value) or value < 0:
                err(lineno, "%s: counter value %s is not >= 0" % (name, fields[0]))
        if f.type == "histogram" and name == f.name:
            err(lineno, '%s: a histogram has only _bucket, _sum and _count samples' % name)
        if f.type not in ("histogram",) and "le" in labels:
            err(lineno, '%s: "le" label outside a histogram bucket' % name)
        if f.type == "histogram" and name != f.name + "_bucket" and "le" in labels:
            err(lineno, '%s: "le" label only belongs on _bucket' % name)
        if f.type != "summary" and "quantile" in labels:
            err(lineno, '%s: "quantile" label outside a summary' % name)

    for f in families.values():
        if f.type == "histogram":
            check_histogram(f, err)
        elif f.type == "summary":
            check_summary(f, err)
        if not f.samples and (f.help is None or f.type is None):
            err(f.first_line, 'family "%s" lacks %s' % (f.name, "HELP" if f.help is None else "TYPE"))
    return errs


def group_key(labels, drop):
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


def check_histogram(f, err):
    groups = {}
    for lineno, name, labels, value in f.samples:
        g = groups.setdefault(group_key(labels, "le"), {"buckets": [], "sum": None, "count": None,
                                                         "line": lineno})
        if name == f.name + "_bucket":
            if "le" not in labels:
                err(lineno, '%s: bucket without "le" label' % name)
                continue
            le = parse_float(labels["le"])
            if le is None or math.isnan(le):
                err(lineno, '%s: invalid le="%s"' % (name, labels["le"]))
                continue
            g["buckets"].append((lineno, le, value))
        elif name == f.name + "_sum":
            g["sum"] = value
        elif name == f.name + "_count":
            g["count"] = (lineno, value)
    for key, g in groups.items():
        where = "%s%s" % (f.name, "{" + ",".join('%s="%s"' % kv for kv in key) + "}" if key else "")
        prev_le, prev_v = None, None
        inf_v = None
        for lineno, le, v in g["buckets"]:
            if math.isnan(v) or v < 0 or v != int(v):
                err(lineno, "%s: bucket count %r is not a non-negative integer" % (where, v))
            if prev_le is not None and not le > prev_le:
                err(lineno, "%s: le=%r does not increase (previous %r)" % (where, le, prev_le))
            if prev_v is not None and v < prev_v:
                err(lineno, "%s: bucket count %r below the previous bucket's %r" % (where, v, prev_v))
            prev_le, prev_v = le, v
            if math.isinf(le) and le > 0:
                inf_v = v
        if not g["buckets"]:
            err(g["line"], "%s: histogram without buckets" % where)
        elif inf_v is None:
            err(g["buckets"][-1][0], '%s: no le="+Inf" bucket' % where)
        if g["sum"] is None:
            err(g["line"], "%s: histogram without _sum" % where)
        if g["count"] is None:
            err(g["line"], "%s: histogram without _count" % where)
        elif inf_v is not None and g["count"][1] != inf_v:
            err(g["count"][0], '%s: _count %r differs from the le="+Inf" bucket %r'
                % (where, g["count"][1], inf_v))


def check_summary(f, err):
    groups = {}
    for lineno, name, labels, value in f.samples:
        g = groups.setdefault(group_key(labels, "quantile"), {"sum": False, "count": False, "line": lineno})
        if name == f.name:
            q = parse_float(labels.get("quantile", ""))
            if q is None or not 0 <= q <= 1:
                err(lineno, '%s: quantile label missing or not in [0, 1]' % name)
        elif name == f.name + "_sum":
            g["sum"] = True
        elif name == f.name + "_count":
            g["count"] = True
    for g in groups.values():
        if not (g["sum"] and g["count"]):
            err(g["line"], "%s: summary without _sum or _count" % f.name)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 0 if len(argv) == 2 else 2
    fname = argv[1] if len(argv) == 2 else "-"
    try:
        if fname == "-":
            data, fname = sys.stdin.buffer.read(), "<stdin>"
        else:
            with open(fname, "rb") as fh:
                data = fh.read()
    except OSError as e:
        print("promcheck: %s: %s" % (fname, e.strerror), file=sys.stderr)
        return 2
    errs = check(data, fname)
    for e in errs:
        print(e, file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
