/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Config reload, on SIGHUP or when the file changes on disk (inotify on its
 * directory: ConfigMaps swap a symlink). The new config, with the
 * command-line overrides applied again, replaces the running one whole or
 * not at all; then the rate limit is new (every rule re-armed), the kernel's
 * verdicts rebuilt, the pools re-synced. Settings bound at start-up are
 * said not to apply until a restart.
 */
#ifndef REFLEX_RELOAD_H
#define REFLEX_RELOAD_H

#include <stdint.h>

struct agent;

/* Loads agent->config's file again; a config that fails keeps the running one (logged). */
void reload_config(struct agent *a);
/*
 * The "config" audit record (DESIGN.md, Contracts): which rules, in which
 * mode, and the command-line overrides in force, each time a config is
 * loaded; HOW says when.
 */
void reload_record_config(struct agent *a, const char *how);
/* Watches the config file's directory from the loop; without inotify, SIGHUP still reloads. */
void reload_watch_start(struct agent *a);
/* Any change in the config file's directory (ConfigMaps swap a symlink) marks it to be compared. */
void reload_on_watch(struct agent *a);
/* The tick: a marked file, settled and changed (by its hash), is reloaded. */
void reload_tick(struct agent *a, uint64_t now);

#endif
