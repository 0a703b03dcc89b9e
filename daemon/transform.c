/* transform.c - value transforms between a side's representation and the
 * canonical one. Pure: no I/O, no clock, no locale, no global state. Error
 * messages name the field and the problem, never the value. */
#include "transform.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN 1000
#define YEAR_MAX 9999

/* ---- errors ---- */

static int fail(const struct map_field *f, char *err, size_t errsz,
		const char *fmt, ...) CS_PRINTF(4, 5);

/* Writes "field NAME: message" to err and returns CS_EINVAL. */
static int fail(const struct map_field *f, char *err, size_t errsz,
		const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errsz == 0)
		return CS_EINVAL;
	n = snprintf(err, errsz, "field %s: ", f && f->name ? f->name : "?");
	if (n >= 0 && (size_t)n < errsz) {
		va_start(ap, fmt);
		vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return CS_EINVAL;
}

/* ---- ASCII helpers (never the locale's) ---- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_alpha(char c)
{
	return is_upper(c) || is_lower(c);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static char to_upper(char c)
{
	return is_lower(c) ? (char)(c - 'a' + 'A') : c;
}

static char to_lower(char c)
{
	return is_upper(c) ? (char)(c - 'A' + 'a') : c;
}

/* Exactly n ASCII digits at s as a number; -1 when they are not. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* ---- UTF-8 ---- */

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static int valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s;
		unsigned char lo = 0x80, hi = 0xBF;
		int more;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2;
			if (c == 0xE0)
				lo = 0xA0;	/* overlong */
			else if (c == 0xED)
				hi = 0x9F;	/* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3;
			if (c == 0xF0)
				lo = 0x90;	/* overlong */
			else if (c == 0xF4)
				hi = 0x8F;	/* above U+10FFFF */
		} else {
			return 0;
		}
		s++;
		/* Only the first continuation byte has a narrowed range. */
		for (int i = 0; i < more; i++, s++) {
			if (*s < lo || *s > hi)
				return 0;
			lo = 0x80;
			hi = 0xBF;
		}
	}
	return 1;
}

/* ---- calendar ---- */

struct dt {
	int y, mo, d, h, mi, s;
};

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int mo)
{
	static const int n[12] = { 31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31 };

	return mo == 2 && is_leap(y) ? 29 : n[mo - 1];
}

static int valid_ymd(int y, int mo, int d)
{
	return y >= YEAR_MIN && y <= YEAR_MAX && mo >= 1 && mo <= 12 &&
	       d >= 1 && d <= month_days(y, mo);
}

static int valid_hms(int h, int mi, int s)
{
	return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59;
}

/* Moves a valid date one day forward (step 1) or back (step -1). The year
 * may leave YEAR_MIN..YEAR_MAX; the caller checks. */
static void step_day(struct dt *t, int step)
{
	if (step > 0) {
		if (t->d < month_days(t->y, t->mo)) {
			t->d++;
		} else if (t->mo < 12) {
			t->mo++;
			t->d = 1;
		} else {
			t->y++;
			t->mo = 1;
			t->d = 1;
		}
	} else {
		if (t->d > 1) {
			t->d--;
		} else if (t->mo > 1) {
			t->mo--;
			t->d = month_days(t->y, t->mo);
		} else {
			t->y--;
			t->mo = 12;
			t->d = 31;
		}
	}
}

/* Subtracts a UTC offset (in minutes, |off| < 24 h) from a valid date and
 * time. At most one day boundary is crossed, so no day count is needed. */
static void apply_offset(struct dt *t, int off_min)
{
	long secs = (long)t->h * 3600 + (long)t->mi * 60 + t->s -
		    (long)off_min * 60;

	if (secs < 0) {
		secs += 86400;
		step_day(t, -1);
	} else if (secs >= 86400) {
		secs -= 86400;
		step_day(t, 1);
	}
	t->h = (int)(secs / 3600);
	t->mi = (int)(secs / 60 % 60);
	t->s = (int)(secs % 60);
}

/* Writes v (0 <= v < 10^width) as width decimal digits; returns the end. */
static char *put_num(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

/* Canonical text of a date (11 bytes) or date and time (21 bytes) whose
 * parts are in range. */
static void fmt_date(char buf[11], const struct dt *t)
{
	char *p = put_num(buf, t->y, 4);

	*p++ = '-';
	p = put_num(p, t->mo, 2);
	*p++ = '-';
	p = put_num(p, t->d, 2);
	*p = '\0';
}

static void fmt_datetime(char buf[21], const struct dt *t)
{
	char *p;

	fmt_date(buf, t);
	p = buf + 10;
	*p++ = 'T';
	p = put_num(p, t->h, 2);
	*p++ = ':';
	p = put_num(p, t->mi, 2);
	*p++ = ':';
	p = put_num(p, t->s, 2);
	*p++ = 'Z';
	*p = '\0';
}

/* YYYY-MM-DD at s (exactly 10 characters consumed); 0 when malformed.
 * The date is not checked against the calendar. */
static int parse_ymd(const char *s, struct dt *t)
{
	t->y = digits(s, 4);
	if (t->y < 0 || s[4] != '-')
		return 0;
	t->mo = digits(s + 5, 2);
	if (t->mo < 0 || s[7] != '-')
		return 0;
	t->d = digits(s + 8, 2);
	return t->d >= 0;
}

static int canon_date(const struct map_field *f, const char *in, char **out,
		      char *err, size_t errsz)
{
	struct dt t;
	char buf[11];

	if (strlen(in) != 10 || !parse_ymd(in, &t))
		return fail(f, err, errsz, "not a date (YYYY-MM-DD)");
	if (t.y < YEAR_MIN)
		return fail(f, err, errsz, "year out of range (%d-%d)",
			    YEAR_MIN, YEAR_MAX);
	if (!valid_ymd(t.y, t.mo, t.d))
		return fail(f, err, errsz, "not a calendar date");
	fmt_date(buf, &t);
	*out = cs_strdup(buf);
	return *out ? CS_OK : CS_ENOMEM;
}

/* Z, +HH, +HHMM, +HH:MM (or -) at s, the whole rest of the string, in
 * minutes east of UTC; 0 when malformed. */
static int parse_offset(const char *s, int *off)
{
	int sign, h, m = 0;

	if (*s == '\0' || (s[0] == 'Z' && s[1] == '\0')) {
		*off = 0;
		return 1;
	}
	if (*s != '+' && *s != '-')
		return 0;
	sign = *s == '-' ? -1 : 1;
	h = digits(s + 1, 2);
	if (h < 0)
		return 0;
	s += 3;
	if (*s == ':')
		s++;
	if (*s) {
		/* A colon must be followed by minutes. */
		m = digits(s, 2);
		if (m < 0 || s[2] != '\0')
			return 0;
	} else if (s[-1] == ':') {
		return 0;
	}
	if (h > 23 || m > 59)
		return 0;
	*off = sign * (h * 60 + m);
	return 1;
}

static int canon_datetime(const struct map_field *f, const char *in,
			  char **out, char *err, size_t errsz)
{
	struct dt t;
	const char *p;
	int off;
	char buf[21];

	/* YYYY-MM-DD[T ]HH:MM:SS */
	if (strlen(in) < 19 || !parse_ymd(in, &t) ||
	    (in[10] != 'T' && in[10] != ' '))
		return fail(f, err, errsz,
			    "not a date and time (YYYY-MM-DDTHH:MM:SS)");
	t.h = digits(in + 11, 2);
	t.mi = digits(in + 14, 2);
	t.s = digits(in + 17, 2);
	if (t.h < 0 || in[13] != ':' || t.mi < 0 || in[16] != ':' || t.s < 0)
		return fail(f, err, errsz,
			    "not a date and time (YYYY-MM-DDTHH:MM:SS)");
	p = in + 19;
	if (*p == '.' || *p == ',') {
		/* A fraction of a second, dropped. */
		if (!is_digit(p[1]))
			return fail(f, err, errsz, "malformed fraction of a second");
		for (p++; is_digit(*p); p++)
			;
	}
	if (!parse_offset(p, &off))
		return fail(f, err, errsz,
			    "malformed UTC offset (Z, +HH, +HHMM or +HH:MM)");
	if (t.y < YEAR_MIN)
		return fail(f, err, errsz, "year out of range (%d-%d)",
			    YEAR_MIN, YEAR_MAX);
	if (!valid_ymd(t.y, t.mo, t.d))
		return fail(f, err, errsz, "not a calendar date");
	if (!valid_hms(t.h, t.mi, t.s))
		return fail(f, err, errsz, "not a time of day");
	apply_offset(&t, off);
	if (t.y < YEAR_MIN || t.y > YEAR_MAX)
		return fail(f, err, errsz, "year out of range (%d-%d) in UTC",
			    YEAR_MIN, YEAR_MAX);
	fmt_datetime(buf, &t);
	*out = cs_strdup(buf);
	return *out ? CS_OK : CS_ENOMEM;
}

/* ---- other scalar types ---- */

static int canon_int(const struct map_field *f, const char *in, char **out,
		     char *err, size_t errsz)
{
	long long v;
	unsigned long long u;
	char buf[24], *p = buf + sizeof(buf);

	if (cs_parse_int64(in, LLONG_MIN, LLONG_MAX, &v))
		return fail(f, err, errsz, "not a 64-bit decimal integer");
	/* Decimal by hand, LLONG_MIN included. */
	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	*out = cs_strdup(p);
	return *out ? CS_OK : CS_ENOMEM;
}

static int canon_bool(const struct map_field *f, const char *in, char **out,
		      char *err, size_t errsz)
{
	const char *v;

	/* true/false in any case (the census yes/no type allows TRUE and
	 * FALSE), 1/0, and PostgreSQL's t/f. */
	if (!strcasecmp(in, "true") || !strcmp(in, "1") || !strcmp(in, "t"))
		v = "true";
	else if (!strcasecmp(in, "false") || !strcmp(in, "0") ||
		 !strcmp(in, "f"))
		v = "false";
	else
		return fail(f, err, errsz, "not a boolean (true, false, 1, 0)");
	*out = cs_strdup(v);
	return *out ? CS_OK : CS_ENOMEM;
}

/* Index of code in the field's code list, or -1. */
static long code_index(const struct codelist *cl, const char *code)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->codes[i] && !strcmp(cl->codes[i], code))
			return (long)i;
	return -1;
}

static int canon_code(const struct map_field *f, const char *in, char **out,
		      char *err, size_t errsz)
{
	if (!f->codelist)
		return fail(f, err, errsz, "code field without a code list");
	if (code_index(f->codelist, in) < 0)
		return fail(f, err, errsz, "unknown code for code list %s",
			    f->codelist->name ? f->codelist->name : "?");
	*out = cs_strdup(in);
	return *out ? CS_OK : CS_ENOMEM;
}

/* ---- identifier checks (in place on a canonical value) ---- */

/* NHS number: 10 digits, single spaces or hyphens allowed between digits
 * (removed); modulus 11 check digit with weights 10..2. */
static int check_nhs(const struct map_field *f, char *v, char *err,
		     size_t errsz)
{
	char d[10];
	size_t n = 0;
	int sum = 0, check;

	for (size_t i = 0; v[i]; i++) {
		if (is_digit(v[i])) {
			if (n == sizeof(d))
				return fail(f, err, errsz,
					    "NHS number must be 10 digits");
			d[n++] = v[i];
		} else if ((v[i] != ' ' && v[i] != '-') || i == 0 ||
			   !is_digit(v[i - 1]) || !is_digit(v[i + 1])) {
			return fail(f, err, errsz,
				    "NHS number must be 10 digits");
		}
	}
	if (n != sizeof(d))
		return fail(f, err, errsz, "NHS number must be 10 digits");
	for (int i = 0; i < 9; i++)
		sum += (d[i] - '0') * (10 - i);
	check = 11 - sum % 11;
	if (check == 11)
		check = 0;
	if (check == 10 || check != d[9] - '0')
		return fail(f, err, errsz, "check digit does not match");
	memcpy(v, d, sizeof(d));
	v[sizeof(d)] = '\0';
	return CS_OK;
}

/* Unique Pupil Number, per the CIN census schema's upntype: a letter, 11
 * digits, then a digit or a letter. Letters are upper-cased. */
static int check_upn(const struct map_field *f, char *v, char *err,
		     size_t errsz)
{
	if (strlen(v) != 13 || !is_alpha(v[0]) ||
	    !(is_alpha(v[12]) || is_digit(v[12])))
		return fail(f, err, errsz,
			    "UPN must be a letter, 11 digits and a letter or digit");
	for (int i = 1; i < 12; i++)
		if (!is_digit(v[i]))
			return fail(f, err, errsz,
				    "UPN must be a letter, 11 digits and a letter or digit");
	v[0] = to_upper(v[0]);
	v[12] = to_upper(v[12]);
	return CS_OK;
}

/* ---- canonical forms ---- */

int xform_canon_scalar(const struct map_field *f, const char *in, char **out,
		       char *err, size_t errsz)
{
	int rc;

	*out = NULL;
	if (!in)
		return fail(f, err, errsz, "no value");
	switch (f->type) {
	case FT_STRING:
		if (!valid_utf8(in))
			return fail(f, err, errsz, "not valid UTF-8");
		*out = cs_strdup(in);
		rc = *out ? CS_OK : CS_ENOMEM;
		break;
	case FT_INT:
		rc = canon_int(f, in, out, err, errsz);
		break;
	case FT_BOOL:
		rc = canon_bool(f, in, out, err, errsz);
		break;
	case FT_DATE:
		rc = canon_date(f, in, out, err, errsz);
		break;
	case FT_DATETIME:
		rc = canon_datetime(f, in, out, err, errsz);
		break;
	case FT_CODE:
		rc = canon_code(f, in, out, err, errsz);
		break;
	default:
		return fail(f, err, errsz, "unknown field type");
	}
	if (rc)
		return rc;
	switch (f->check) {
	case CHECK_NHS_NUMBER:
		rc = check_nhs(f, *out, err, errsz);
		break;
	case CHECK_UPN:
		rc = check_upn(f, *out, err, errsz);
		break;
	default:
		break;
	}
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* items[0..n) joined with ",". */
static char *join_list(char **items, size_t n)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		if (i)
			*p++ = ',';
		memcpy(p, items[i], l);
		p += l;
	}
	*p = '\0';
	return s;
}

int xform_canon(const struct map_field *f, const char *in, char **out,
		char *err, size_t errsz)
{
	char **items;
	size_t n, k;
	int rc;

	if (!f->multiple)
		return xform_canon_scalar(f, in, out, err, errsz);
	*out = NULL;
	if (!in)
		return fail(f, err, errsz, "no value");
	rc = xform_list_split(in, &items, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char *c;

		if (!items[i][0]) {
			rc = fail(f, err, errsz, "empty item in a list");
			goto done;
		}
		rc = xform_canon_scalar(f, items[i], &c, err, errsz);
		if (rc)
			goto done;
		free(items[i]);
		items[i] = c;
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_str);
	/* Remove duplicates: keep the first of each run. */
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(items[k - 1], items[i])) {
			free(items[i]);
			continue;
		}
		items[k++] = items[i];
	}
	n = k;
	*out = join_list(items, n);
	rc = *out ? CS_OK : CS_ENOMEM;
done:
	xform_list_free(items, n);
	return rc;
}

/* ---- date formats ---- */

/* Which directives a date format uses. */
struct fmt_info {
	int Y, y, m, d, H, M, S;
};

/* Fills fi from fmt; 0 when fmt is not valid for the type. */
static int scan_format(const char *fmt, enum field_type t,
		       struct fmt_info *fi)
{
	memset(fi, 0, sizeof(*fi));
	if (!fmt || (t != FT_DATE && t != FT_DATETIME))
		return 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			if (*p < 0x20 || *p > 0x7e)
				return 0;
			continue;
		}
		switch (*++p) {
		case 'Y': fi->Y = 1; break;
		case 'y': fi->y = 1; break;
		case 'm': fi->m = 1; break;
		case 'd': fi->d = 1; break;
		case '%': break;
		case 'H':
		case 'M':
		case 'S':
			if (t != FT_DATETIME)
				return 0;
			if (*p == 'H')
				fi->H = 1;
			else if (*p == 'M')
				fi->M = 1;
			else
				fi->S = 1;
			break;
		default:	/* includes a trailing '%' */
			return 0;
		}
	}
	return 1;
}

int xform_date_format_valid(const char *fmt, enum field_type t)
{
	struct fmt_info fi;

	return scan_format(fmt, t, &fi);
}

/* Sets *slot to v, or checks it agrees with an earlier occurrence. */
static int put_part(int *slot, int v)
{
	if (*slot >= 0 && *slot != v)
		return 0;
	*slot = v;
	return 1;
}

/* Parses in per fmt (already validated) into the canonical form of the
 * field's type. Parts the format lacks default to month 1, day 1 and
 * 00:00:00; a format without a year cannot be decoded. */
static int decode_date_format(const struct map_field *f, const char *fmt,
			      const char *in, char **out, char *err,
			      size_t errsz)
{
	struct dt t;
	int y2 = -1, v;
	const char *s = in;
	char buf[21];

	t.y = t.mo = t.d = t.h = t.mi = t.s = -1;
	for (const char *p = fmt; *p; p++) {
		int *slot = NULL, width = 2;

		if (*p != '%' || p[1] == '%') {
			if (*s != *p)
				goto mismatch;
			s++;
			if (*p == '%')
				p++;
			continue;
		}
		switch (*++p) {
		case 'Y': slot = &t.y; width = 4; break;
		case 'y': slot = &y2; break;
		case 'm': slot = &t.mo; break;
		case 'd': slot = &t.d; break;
		case 'H': slot = &t.h; break;
		case 'M': slot = &t.mi; break;
		default: slot = &t.s; break;	/* 'S' */
		}
		v = digits(s, width);
		if (v < 0 || !put_part(slot, v))
			goto mismatch;
		s += width;
	}
	if (*s)
		goto mismatch;
	if (y2 >= 0) {
		/* As POSIX strptime: 69-99 are 1969-1999, 00-68 2000-2068. */
		int full = y2 >= 69 ? 1900 + y2 : 2000 + y2;

		if (t.y >= 0 && t.y % 100 != y2)
			goto mismatch;
		if (t.y < 0)
			t.y = full;
	}
	if (t.y < 0)
		return fail(f, err, errsz, "date format has no year");
	if (t.mo < 0)
		t.mo = 1;
	if (t.d < 0)
		t.d = 1;
	if (t.h < 0)
		t.h = 0;
	if (t.mi < 0)
		t.mi = 0;
	if (t.s < 0)
		t.s = 0;
	if (t.y < YEAR_MIN)
		return fail(f, err, errsz, "year out of range (%d-%d)",
			    YEAR_MIN, YEAR_MAX);
	if (!valid_ymd(t.y, t.mo, t.d))
		return fail(f, err, errsz, "not a calendar date");
	if (!valid_hms(t.h, t.mi, t.s))
		return fail(f, err, errsz, "not a time of day");
	if (f->type == FT_DATE)
		fmt_date(buf, &t);
	else
		fmt_datetime(buf, &t);
	*out = cs_strdup(buf);
	return *out ? CS_OK : CS_ENOMEM;
mismatch:
	return fail(f, err, errsz, "does not match the date format");
}

/* Writes a canonical date or datetime (already validated) per fmt. */
static int encode_date_format(const struct map_field *f, const char *fmt,
			      const char *canon, char **out)
{
	struct dt t;
	char *s, *q;

	memset(&t, 0, sizeof(t));
	if (!parse_ymd(canon, &t))
		return CS_EINVAL;	/* not reached: canon is validated */
	if (f->type == FT_DATETIME) {
		t.h = digits(canon + 11, 2);
		t.mi = digits(canon + 14, 2);
		t.s = digits(canon + 17, 2);
	}
	/* Each two-character directive writes at most four. */
	s = malloc(2 * strlen(fmt) + 1);
	if (!s)
		return CS_ENOMEM;
	q = s;
	for (const char *p = fmt; *p; p++) {
		int v, width = 2;

		if (*p != '%') {
			*q++ = *p;
			continue;
		}
		switch (*++p) {
		case '%': *q++ = '%'; continue;
		case 'Y': v = t.y; width = 4; break;
		case 'y': v = t.y % 100; break;
		case 'm': v = t.mo; break;
		case 'd': v = t.d; break;
		case 'H': v = t.h; break;
		case 'M': v = t.mi; break;
		default: v = t.s; break;	/* 'S' */
		}
		q = put_num(q, v, width);
	}
	*q = '\0';
	*out = s;
	return CS_OK;
}

/* ---- decode and encode ---- */

static int is_date_type(enum field_type t)
{
	return t == FT_DATE || t == FT_DATETIME;
}

/* The side's value for canonical code i. */
static const char *side_code(const struct map_field *f,
			     const struct map_xform *x, size_t i)
{
	return x->codes[i] ? x->codes[i] : f->codelist->codes[i];
}

int xform_decode(const struct map_field *f, const struct map_xform *x,
		 const char *raw, char **out, char *err, size_t errsz)
{
	const char *b, *e;
	char *v;
	int rc;

	*out = NULL;
	if (!raw)
		return fail(f, err, errsz, "no value");
	if (!x)
		return xform_canon_scalar(f, raw, out, err, errsz);
	b = raw;
	e = raw + strlen(raw);
	if (x->trim) {
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
	}
	v = cs_strndup(b, (size_t)(e - b));
	if (!v)
		return CS_ENOMEM;
	if (x->tcase != CASE_KEEP)
		for (char *p = v; *p; p++)
			*p = x->tcase == CASE_UPPER ? to_upper(*p) :
						      to_lower(*p);
	if (is_date_type(f->type) && x->date_format) {
		char *c = NULL;

		if (!xform_date_format_valid(x->date_format, f->type)) {
			rc = fail(f, err, errsz, "invalid date format");
			goto done;
		}
		rc = decode_date_format(f, x->date_format, v, &c, err, errsz);
		if (rc)
			goto done;
		free(v);
		v = c;
	}
	if (f->type == FT_CODE && x->codes) {
		size_t i;

		if (!f->codelist) {
			rc = fail(f, err, errsz, "code field without a code list");
			goto done;
		}
		for (i = 0; i < f->codelist->n; i++)
			if (!strcmp(side_code(f, x, i), v))
				break;
		if (i == f->codelist->n) {
			rc = fail(f, err, errsz,
				  "unknown code for code list %s",
				  f->codelist->name ? f->codelist->name : "?");
			goto done;
		}
		free(v);
		v = cs_strdup(f->codelist->codes[i]);
		if (!v)
			return CS_ENOMEM;
	}
	rc = xform_canon_scalar(f, v, out, err, errsz);
done:
	free(v);
	return rc;
}

int xform_encode(const struct map_field *f, const struct map_xform *x,
		 const char *canon, char **out, char *err, size_t errsz)
{
	char *c;
	int rc;

	*out = NULL;
	/* Validates (dates included) and normalises what we were given. */
	rc = xform_canon_scalar(f, canon, &c, err, errsz);
	if (rc)
		return rc;
	if (!x) {
		*out = c;
		return CS_OK;
	}
	if (f->type == FT_CODE && x->codes) {
		long i = code_index(f->codelist, c);

		/* i >= 0: c passed the code list check. */
		*out = cs_strdup(side_code(f, x, (size_t)i));
		free(c);
		return *out ? CS_OK : CS_ENOMEM;
	}
	if (is_date_type(f->type) && x->date_format) {
		if (!xform_date_format_valid(x->date_format, f->type))
			rc = fail(f, err, errsz, "invalid date format");
		else
			rc = encode_date_format(f, x->date_format, c, out);
		free(c);
		return rc;
	}
	*out = c;
	return CS_OK;
}

/* ---- split and join ---- */

/* Last occurrence of sep in s, or NULL. */
static const char *find_last(const char *s, const char *sep)
{
	const char *last = NULL;

	for (const char *p = strstr(s, sep); p; p = strstr(p + 1, sep))
		last = p;
	return last;
}

int xform_split(const char *whole, const char *sep, enum split_part part,
		char **out)
{
	const char *at = NULL;
	size_t seplen = sep ? strlen(sep) : 0;

	*out = NULL;
	if (!whole)
		return CS_EINVAL;
	if (seplen) {
		if (part == PART_FIRST || part == PART_REST)
			at = strstr(whole, sep);
		else if (part == PART_INIT || part == PART_LAST)
			at = find_last(whole, sep);
	}
	switch (part) {
	case PART_FIRST:
	case PART_INIT:
		*out = at ? cs_strndup(whole, (size_t)(at - whole)) :
			    cs_strdup(part == PART_FIRST ? whole : "");
		break;
	case PART_REST:
	case PART_LAST:
		*out = cs_strdup(at ? at + seplen :
				 part == PART_LAST ? whole : "");
		break;
	case PART_NONE:
		*out = cs_strdup(whole);
		break;
	default:
		return CS_EINVAL;
	}
	return *out ? CS_OK : CS_ENOMEM;
}

int xform_join(const char *a, const char *b, const char *sep, char **out)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	size_t ls = la && lb && sep ? strlen(sep) : 0;
	char *s;

	*out = NULL;
	s = malloc(la + ls + lb + 1);
	if (!s)
		return CS_ENOMEM;
	if (la)
		memcpy(s, a, la);
	if (ls)
		memcpy(s + la, sep, ls);
	if (lb)
		memcpy(s + la + ls, b, lb);
	s[la + ls + lb] = '\0';
	*out = s;
	return CS_OK;
}

/* ---- lossiness ---- */

const char *xform_lossy(const struct map_field *f, const struct map_xform *x)
{
	struct fmt_info fi;

	if (!x)
		return NULL;
	if (f->type == FT_CODE && x->codes && f->codelist) {
		for (size_t i = 0; i < f->codelist->n; i++)
			for (size_t j = i + 1; j < f->codelist->n; j++)
				if (!strcmp(side_code(f, x, i),
					    side_code(f, x, j)))
					return "code list translation is not one-to-one";
	}
	if (is_date_type(f->type) && x->date_format &&
	    scan_format(x->date_format, f->type, &fi)) {
		/* %y alone loses the century; %Y with %y loses nothing. */
		if (!fi.Y || !fi.m || !fi.d ||
		    (f->type == FT_DATETIME && (!fi.H || !fi.M || !fi.S)))
			return "date format drops information";
	}
	if (x->tcase != CASE_KEEP && f->type != FT_CODE)
		return "case folding";
	if (x->trim && f->type == FT_STRING)
		return "trimming";
	if (x->split_part != PART_NONE)
		return "splitting free text";
	return NULL;
}

/* ---- lists ---- */

int xform_list_split(const char *canon, char ***items, size_t *n)
{
	size_t count = 1, k = 0;
	const char *p;
	char **v;

	*items = NULL;
	*n = 0;
	if (!canon || !*canon)
		return CS_OK;
	for (p = canon; *p; p++)
		if (*p == ',')
			count++;
	v = calloc(count, sizeof(*v));
	if (!v)
		return CS_ENOMEM;
	for (p = canon;; ) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		v[k] = cs_strndup(p, len);
		if (!v[k]) {
			xform_list_free(v, k);
			return CS_ENOMEM;
		}
		k++;
		if (!e)
			break;
		p = e + 1;
	}
	*items = v;
	*n = k;
	return CS_OK;
}

void xform_list_free(char **items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}
