/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* One funnel for every diagnostic line reflex prints (stderr, logfmt-ish). */
#ifndef REFLEX_LOG_H
#define REFLEX_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set once at start-up by the program's main; modules never change it. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": <strerror(-err)> (errno N)" to the message; returns err (negative errno). */
int log_errno(enum log_level level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
