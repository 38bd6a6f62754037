// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Durations ("1h30m"), RFC 3339 times and Falco's priority names. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "util.h"

#define DURATION_MAX_S (10LL * 366 * 86400) /* ten years: far beyond any retention */

int triage_parse_duration(const char *s, int64_t *ret_seconds)
{
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		int64_t n = 0, unit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (*s - '0');
			if (n > DURATION_MAX_S)
				return -EINVAL;
		}
		switch (*s++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -EINVAL;
		}
		total += n * unit;
		if (total > DURATION_MAX_S)
			return -EINVAL;
	}
	if (total <= 0)
		return -EINVAL;
	*ret_seconds = total;
	return 0;
}

static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

int triage_parse_time(const char *s, int64_t *ret_ns)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
	int64_t frac = 0, scale = 1000000000;
	struct tm tm = { 0 };
	const char *p = s;
	time_t t;

	if (!s || digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) || *p++ != '-' || digits(&p, 2, &day))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) || *p++ != ':' || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &off_h) || *p++ != ':' || digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 || min > 59 || sec > 60 ||
	    year < 1970)
		return -EINVAL;
	if (mon == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	t -= sign * (off_h * 3600 + off_m * 60);
	if (t < 0 || t > INT64_MAX / 1000000000 - 1)
		return -EINVAL;
	*ret_ns = (int64_t)t * 1000000000 + frac;
	return 0;
}

char *format_time(int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	char date[32], *out;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return NULL;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	if (asprintf(&out, "%s.%09lldZ", date, (long long)(ns % 1000000000)) < 0)
		return NULL;
	return out;
}

const char *triage_priority_name(const char *name)
{
	static const char *const names[] = { "Emergency", "Alert",	   "Critical", "Error",
					     "Warning",	  "Notice", "Informational", "Debug" };

	for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return names[i];
	return NULL;
}
