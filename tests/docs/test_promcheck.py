#!/usr/bin/env python3
"""Tests of promcheck.py on good and bad expositions (python3 -m unittest)."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import promcheck  # noqa: E402

GOOD_BASIC = """\
# HELP vmsup_vm_vcpus Virtual CPUs of the VM.
# TYPE vmsup_vm_vcpus gauge
vmsup_vm_vcpus{vm="a"} 2
vmsup_vm_vcpus{vm="b"} 1
# HELP vmsup_api_requests_total API requests.
# TYPE vmsup_api_requests_total counter
vmsup_api_requests_total{code="200"} 10
vmsup_api_requests_total{code="404"} 1 1700000000000
# a free comment is allowed
# HELP up_ratio nothing \\\\ special\\nsecond line
# TYPE up_ratio gauge
up_ratio NaN
up_ratio{x=""} -Inf
up_ratio{x="\\\\\\"\\n"} +Inf
up_ratio{x="ünïcödé"} 1.5e-07
"""

GOOD_HIST = """\
# HELP rt_seconds Round trip.
# TYPE rt_seconds histogram
rt_seconds_bucket{le="0.1"} 1
rt_seconds_bucket{le="1"} 3
rt_seconds_bucket{le="+Inf"} 4
rt_seconds_sum 7.5
rt_seconds_count 4
rt_seconds_bucket{vm="a",le="0.1"} 0
rt_seconds_bucket{vm="a",le="+Inf"} 0
rt_seconds_sum{vm="a"} 0
rt_seconds_count{vm="a"} 0
"""

GOOD_SUMMARY = """\
# HELP lat_seconds Latency.
# TYPE lat_seconds summary
lat_seconds{quantile="0.5"} 0.2
lat_seconds{quantile="0.99"} 0.9
lat_seconds_sum 12
lat_seconds_count 40
"""

HEAD = "# HELP m_total h\n# TYPE m_total counter\n"
GHEAD = "# HELP g h\n# TYPE g gauge\n"
HHEAD = "# HELP h_seconds h\n# TYPE h_seconds histogram\n"

# (name, text, substring expected in one of the errors)
BAD = [
    ("empty", "", "no metrics"),
    ("no final newline", GHEAD + "g 1", "not terminated"),
    ("carriage return", GHEAD + "g 1\r\n", "carriage return"),
    ("trailing blank", GHEAD + "g 1 \n", "trailing whitespace"),
    ("bad metric name", GHEAD + "1g 1\n", "invalid metric name"),
    ("bad metric name in TYPE", "# TYPE 9x gauge\n", "invalid metric name"),
    ("dash in name", "# HELP a-b h\n# TYPE a-b gauge\na-b 1\n", "invalid metric name"),
    ("bad label name", GHEAD + 'g{1x="a"} 1\n', "invalid label name"),
    ("reserved label", GHEAD + 'g{__name__="a"} 1\n', "reserved"),
    ("duplicate label", GHEAD + 'g{a="1",a="2"} 1\n', "given twice"),
    ("trailing comma", GHEAD + 'g{a="1",} 1\n', "trailing comma"),
    ("unquoted value", GHEAD + "g{a=1} 1\n", 'expected ="'),
    ("bad escape", GHEAD + 'g{a="\\t"} 1\n', "invalid escape"),
    ("unterminated value", GHEAD + 'g{a="x} 1\n', "unterminated"),
    ("raw quote", GHEAD + 'g{a="x"y"} 1\n', "expected , or }"),
    ("bad help escape", "# HELP g a\\tb\n# TYPE g gauge\ng 1\n", "invalid escape in HELP"),
    ("not utf-8", GHEAD.encode() + b'g{a="\xff"} 1\n', "not UTF-8"),
    ("bad value", GHEAD + "g one\n", "invalid value"),
    ("hex value", GHEAD + "g 0x10\n", "invalid value"),
    ("bad timestamp", GHEAD + "g 1 1.5\n", "invalid timestamp"),
    ("extra field", GHEAD + "g 1 2 3\n", "value [timestamp]"),
    ("two spaces", GHEAD + "g  1\n", "exactly one space"),
    ("no value", GHEAD + "g\n", "exactly one space"),
    ("unknown type", "# HELP g h\n# TYPE g gauges\ng 1\n", "unknown TYPE"),
    ("second TYPE", GHEAD + "# TYPE g gauge\ng 1\n", "second TYPE"),
    ("second HELP", GHEAD + "# HELP g again\ng 1\n", "second HELP"),
    ("TYPE after samples", "# HELP g h\ng 1\n# TYPE g gauge\n", "after its samples"),
    ("no TYPE at all", "g 1\n", "without a TYPE"),
    ("no HELP", "# TYPE g gauge\ng 1\n", "no HELP"),
    ("no TYPE", "# HELP g h\ng 1\n", "no TYPE"),
    ("malformed TYPE line", "#TYPE g gauge\n" + GHEAD + "g 1\n", "malformed"),
    ("interleaved", GHEAD + "g 1\n" + HEAD + "m_total 1\ng{a=\"b\"} 2\n", "not contiguous"),
    ("duplicate series", GHEAD + 'g{a="1",b="2"} 1\ng{b="2",a="1"} 2\n', "duplicate series"),
    ("duplicate plain", GHEAD + "g 1\ng 2\n", "duplicate series"),
    ("counter no _total", "# HELP c h\n# TYPE c counter\nc 1\n", "_total"),
    ("negative counter", HEAD + "m_total -1\n", "not >= 0"),
    ("NaN counter", HEAD + "m_total NaN\n", "not >= 0"),
    ("le on gauge", GHEAD + 'g{le="1"} 1\n', '"le" label'),
    ("quantile on gauge", GHEAD + 'g{quantile="1"} 1\n', '"quantile" label'),
    ("hist no +Inf", HHEAD + 'h_seconds_bucket{le="1"} 1\nh_seconds_sum 1\nh_seconds_count 1\n', "+Inf"),
    ("hist +Inf != count", HHEAD + 'h_seconds_bucket{le="1"} 1\nh_seconds_bucket{le="+Inf"} 2\n'
     "h_seconds_sum 1\nh_seconds_count 3\n", "differs"),
    ("hist not monotone", HHEAD + 'h_seconds_bucket{le="1"} 3\nh_seconds_bucket{le="2"} 2\n'
     'h_seconds_bucket{le="+Inf"} 3\nh_seconds_sum 1\nh_seconds_count 3\n', "below the previous"),
    ("hist le not increasing", HHEAD + 'h_seconds_bucket{le="2"} 1\nh_seconds_bucket{le="1"} 1\n'
     'h_seconds_bucket{le="+Inf"} 1\nh_seconds_sum 1\nh_seconds_count 1\n', "does not increase"),
    ("hist bucket without le", HHEAD + 'h_seconds_bucket 1\nh_seconds_bucket{le="+Inf"} 1\n'
     "h_seconds_sum 1\nh_seconds_count 1\n", 'without "le"'),
    ("hist bad le", HHEAD + 'h_seconds_bucket{le="x"} 1\nh_seconds_bucket{le="+Inf"} 1\n'
     "h_seconds_sum 1\nh_seconds_count 1\n", "invalid le"),
    ("hist no count", HHEAD + 'h_seconds_bucket{le="+Inf"} 1\nh_seconds_sum 1\n', "without _count"),
    ("hist no sum", HHEAD + 'h_seconds_bucket{le="+Inf"} 1\nh_seconds_count 1\n', "without _sum"),
    ("hist le on sum", HHEAD + 'h_seconds_bucket{le="+Inf"} 1\nh_seconds_sum{le="1"} 1\n'
     "h_seconds_count 1\n", "only belongs on _bucket"),
    ("hist fractional count", HHEAD + 'h_seconds_bucket{le="+Inf"} 1.5\nh_seconds_sum 1\n'
     "h_seconds_count 1.5\n", "non-negative integer"),
    ("hist bare name", HHEAD + "h_seconds 1\n", "only _bucket"),
    ("summary no quantile", "# HELP s h\n# TYPE s summary\ns 1\ns_sum 1\ns_count 1\n", "quantile"),
    ("summary bad quantile", "# HELP s h\n# TYPE s summary\ns{quantile=\"2\"} 1\ns_sum 1\ns_count 1\n",
     "quantile"),
    ("summary no count", "# HELP s h\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\n", "_count"),
    ("_bucket on a gauge", GHEAD + 'g_bucket{le="1"} 1\n', "without a TYPE"),
]


class Good(unittest.TestCase):
    def test_good(self):
        for name, text in (("basic", GOOD_BASIC), ("histogram", GOOD_HIST), ("summary", GOOD_SUMMARY),
                           ("all", GOOD_BASIC + GOOD_HIST + GOOD_SUMMARY)):
            with self.subTest(name):
                self.assertEqual(promcheck.check(text.encode("utf-8"), name), [])


class Bad(unittest.TestCase):
    def test_bad(self):
        for name, text, want in BAD:
            with self.subTest(name):
                data = text if isinstance(text, bytes) else text.encode("utf-8")
                errs = promcheck.check(data, "t")
                self.assertTrue(errs, "%s: accepted:\n%s" % (name, text))
                self.assertTrue(any(want in e for e in errs),
                                "%s: wanted %r in %r" % (name, want, errs))
                # every message names file and line
                for e in errs:
                    self.assertRegex(e, r"^t:\d+: ")


class Cli(unittest.TestCase):
    """The command line: exit status and stderr as make check sees them."""

    def run_cli(self, data, *args):
        return subprocess.run([sys.executable, os.path.join(HERE, "promcheck.py"), *args],
                              input=data, capture_output=True, timeout=60)

    def test_good_is_silent(self):
        r = self.run_cli(GOOD_HIST.encode())
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))

    def test_bad_exits_1_with_line(self):
        r = self.run_cli((GHEAD + "g 1\ng 2\n").encode())
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"<stdin>:4: g: duplicate series", r.stderr)

    def test_missing_file(self):
        r = self.run_cli(b"", "/nonexistent/metrics.txt")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"No such file", r.stderr)


if __name__ == "__main__":
    unittest.main()
