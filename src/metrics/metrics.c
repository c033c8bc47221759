/* Prometheus text exposition writer; see metrics.h. */
#include "src/metrics/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "src/util/err.h"

static int fail(struct metrics_buf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct metrics_buf *m, const char *fmt, ...)
{
	/* Keep the first error: later ones are usually consequences of it. */
	if (m->err[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->err, sizeof(m->err), fmt, ap);
		va_end(ap);
		if (m->err[0] == '\0')
			snprintf(m->err, sizeof(m->err), "metrics error");
	}
	return -1;
}

void metrics_buf_init(struct metrics_buf *m, struct evbuffer *out)
{
	memset(m, 0, sizeof(*m));
	m->out = out;
}

void metrics_buf_release(struct metrics_buf *m)
{
	for (size_t i = 0; i < m->nfamilies; i++)
		free(m->families[i]);
	free(m->families);
	m->families = NULL;
	m->nfamilies = 0;
}

const char *metrics_error(const struct metrics_buf *m)
{
	return m->err[0] ? m->err : NULL;
}

static int is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static int valid_metric_name(const char *s)
{
	if (!s || !*s || !(is_alpha_(*s) || *s == ':'))
		return 0;
	for (s++; *s; s++)
		if (!(is_alpha_(*s) || is_digit(*s) || *s == ':'))
			return 0;
	return 1;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and "__" is reserved for Prometheus itself. */
static int valid_label_name(const char *s)
{
	if (!s || !*s || !is_alpha_(*s) || strncmp(s, "__", 2) == 0)
		return 0;
	for (s++; *s; s++)
		if (!(is_alpha_(*s) || is_digit(*s)))
			return 0;
	return 1;
}

/* Scrapers reject label values and HELP text that are not UTF-8. */
static int valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned c = *s;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		s += n + 1;
	}
	return 1;
}

static const char *type_name(enum metrics_type t)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_GAUGE:
		return "gauge";
	case METRICS_HISTOGRAM:
		return "histogram";
	case METRICS_UNTYPED:
		return "untyped";
	}
	return NULL;
}

/* HELP escapes backslash and newline; label values also the double quote. */
static void put_escaped(struct evbuffer *out, const char *s, int quote)
{
	const char *run = s;
	for (; *s; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (!rep)
			continue;
		evbuffer_add(out, run, (size_t)(s - run));
		evbuffer_add(out, rep, 2);
		run = s + 1;
	}
	evbuffer_add(out, run, (size_t)(s - run));
}

/* Shortest text that parses back to the same double (Go's ParseFloat). */
static void format_value(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* %g would write 10 as "1e+01": whole numbers are printed whole */
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", v == 0 ? 0.0 : v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

int metrics_family(struct metrics_buf *m, const char *name, enum metrics_type type,
		   const char *help)
{
	if (m->err[0])
		return -1;
	if (!valid_metric_name(name))
		return fail(m, "invalid metric name \"%s\"", name ? name : "(null)");
	const char *tn = type_name(type);
	if (!tn)
		return fail(m, "%s: invalid metric type %d", name, (int)type);
	if (!help || !valid_utf8(help))
		return fail(m, "%s: HELP text missing or not UTF-8", name);
	for (size_t i = 0; i < m->nfamilies; i++)
		if (strcmp(m->families[i], name) == 0)
			return fail(m, "%s: family declared twice", name);

	char **fams = realloc(m->families, (m->nfamilies + 1) * sizeof(*fams));
	if (!fams)
		return fail(m, "%s: out of memory", name);
	m->families = fams;
	if (!(fams[m->nfamilies] = strdup(name)))
		return fail(m, "%s: out of memory", name);
	m->nfamilies++;
	m->cur_type = type;

	evbuffer_add_printf(m->out, "# HELP %s ", name);
	put_escaped(m->out, help, 0);
	evbuffer_add_printf(m->out, "\n# TYPE %s %s\n", name, tn);
	return 0;
}

/* Does a sample called name belong to the family declared last? */
static int in_current_family(const struct metrics_buf *m, const char *name, int *is_bucket)
{
	const char *fam = m->families[m->nfamilies - 1];
	size_t n = strlen(fam);
	*is_bucket = 0;
	if (m->cur_type != METRICS_HISTOGRAM)
		return strcmp(name, fam) == 0;
	if (strncmp(name, fam, n) != 0)
		return 0;
	const char *suffix = name + n;
	if (strcmp(suffix, "_bucket") == 0) {
		*is_bucket = 1;
		return 1;
	}
	return strcmp(suffix, "_sum") == 0 || strcmp(suffix, "_count") == 0;
}

int metrics_samplev(struct metrics_buf *m, const char *name, double value,
		    const char *const *labels)
{
	if (m->err[0])
		return -1;
	if (m->nfamilies == 0)
		return fail(m, "sample \"%s\" before any family", name ? name : "(null)");
	if (!valid_metric_name(name))
		return fail(m, "invalid metric name \"%s\"", name ? name : "(null)");
	int is_bucket;
	if (!in_current_family(m, name, &is_bucket))
		return fail(m, "sample \"%s\" is not part of family \"%s\"", name,
			    m->families[m->nfamilies - 1]);

	size_t nl = 0;
	int has_le = 0;
	for (; labels && labels[nl]; nl += 2) {
		const char *k = labels[nl], *v = labels[nl + 1];
		if (!v)
			return fail(m, "%s: label \"%s\" has no value", name, k);
		if (!valid_label_name(k))
			return fail(m, "%s: invalid label name \"%s\"", name, k);
		if (!valid_utf8(v))
			return fail(m, "%s: value of label \"%s\" is not UTF-8", name, k);
		for (size_t j = 0; j < nl; j += 2)
			if (strcmp(labels[j], k) == 0)
				return fail(m, "%s: label \"%s\" given twice", name, k);
		if (strcmp(k, "le") == 0)
			has_le = 1;
	}
	if (m->cur_type == METRICS_HISTOGRAM && is_bucket != has_le)
		return fail(m, "%s: \"le\" label %s", name,
			    is_bucket ? "missing on a bucket" : "only belongs on _bucket");

	evbuffer_add(m->out, name, strlen(name));
	for (size_t i = 0; i < nl; i += 2) {
		evbuffer_add_printf(m->out, "%c%s=\"", i == 0 ? '{' : ',', labels[i]);
		put_escaped(m->out, labels[i + 1], 1);
		evbuffer_add(m->out, "\"", 1);
	}
	char num[64];
	format_value(value, num, sizeof(num));
	evbuffer_add_printf(m->out, "%s %s\n", nl ? "}" : "", num);
	return 0;
}

int metrics_sample(struct metrics_buf *m, const char *name, double value, ...)
{
	/* Label pairs are few; a fixed bound keeps this allocation-free. */
	const char *labels[33];
	size_t n = 0;
	va_list ap;
	va_start(ap, value);
	const char *s;
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (n == sizeof(labels) / sizeof(labels[0]) - 1) {
			va_end(ap);
			return fail(m, "%s: too many labels", name ? name : "(null)");
		}
		labels[n++] = s;
	}
	va_end(ap);
	/* an odd count leaves the last name without value: the NULL says so */
	labels[n] = NULL;
	if (n % 2)
		return fail(m, "%s: label \"%s\" has no value", name ? name : "(null)",
			    labels[n - 1]);
	return metrics_samplev(m, name, value, labels);
}

int metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t nbounds, char **err)
{
	memset(h, 0, sizeof(*h));
	if (nbounds == 0 || nbounds > METRICS_HIST_MAX) {
		return vmsup_err(err, "histogram needs 1..%d bounds, got %zu", METRICS_HIST_MAX,
				 nbounds);
	}
	for (size_t i = 0; i < nbounds; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
			return vmsup_err(err, "histogram bounds must be finite and increasing");
		}
		h->bounds[i] = bounds[i];
	}
	h->nbounds = nbounds;
	return 0;
}

void metrics_hist_observe(struct metrics_hist *h, double value)
{
	if (isnan(value) || value < 0)
		return;
	size_t i = 0;
	while (i < h->nbounds && value > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += value;
}

int metrics_histogram(struct metrics_buf *m, const char *name, const struct metrics_hist *h,
		      const char *const *labels)
{
	if (m->err[0])
		return -1;
	size_t nl = 0;
	while (labels && labels[nl])
		nl += 2;
	if (nl > 30)
		return fail(m, "%s: too many labels", name);
	const char *l[34];
	for (size_t i = 0; i < nl; i++)
		l[i] = labels[i];
	l[nl] = "le";
	l[nl + 2] = NULL;

	char sname[256];
	if (snprintf(sname, sizeof(sname), "%s_bucket", name) >= (int)sizeof(sname))
		return fail(m, "%s: name too long", name);
	uint64_t cum = 0;
	char le[64];
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		if (i < h->nbounds)
			format_value(h->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		l[nl + 1] = le;
		if (metrics_samplev(m, sname, (double)cum, l) < 0)
			return -1;
	}
	l[nl] = NULL;
	snprintf(sname, sizeof(sname), "%s_sum", name);
	if (metrics_samplev(m, sname, h->sum, l) < 0)
		return -1;
	snprintf(sname, sizeof(sname), "%s_count", name);
	return metrics_samplev(m, sname, (double)h->count, l);
}

void metrics_qmp_hist_init(struct metrics_hist *h)
{
	static const double b[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				   0.1,	   0.25,  0.5,	  1,	 2.5,  5,     10};
	/* constant, valid bounds: cannot fail */
	(void)metrics_hist_init(h, b, sizeof(b) / sizeof(b[0]), NULL);
}

void metrics_qmp_observe(struct metrics_hist *h, double seconds)
{
	metrics_hist_observe(h, seconds);
}

void metrics_api_count(struct metrics_api_counts *c, int code)
{
	if (code >= 100 && code <= 599)
		c->by_code[code]++;
}
