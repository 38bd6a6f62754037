// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* At-least-once delivery through a durable spool; see deliver.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "log.h"
#include "spool.h"

struct deliver {
	struct deliver_config cfg;
	char *what;
	struct spool *spool;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake;   /* new record, kick or stop */
	pthread_cond_t idle;   /* the spool emptied */
	bool stopping;
	bool kicked;
	unsigned int seed;
	struct deliver_stats st;
};

static void deadline_after(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void refresh_pending(struct deliver *d)
{
	struct spool_stats ss;

	spool_get_stats(d->spool, &ss);
	d->st.pending = ss.entries;
	d->st.pending_bytes = ss.bytes;
	if (!ss.entries)
		pthread_cond_broadcast(&d->idle);
}

/* Full jitter: a random wait in [delay/2, delay], so many nodes do not retry in step. */
static unsigned int jittered(struct deliver *d, unsigned int delay)
{
	return delay / 2 + (unsigned int)(rand_r(&d->seed) % (delay / 2 + 1));
}

static void *deliver_thread(void *arg)
{
	struct deliver *d = arg;
	unsigned int delay = d->cfg.backoff_min_ms;

	pthread_setname_np(pthread_self(), "rx-deliver"); /* as top and /proc show it */

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		char err[160] = "";
		uint64_t seq;
		void *data;
		size_t len;
		int r;

		r = spool_peek(d->spool, &seq, &data, &len);
		if (r == -ENOENT) {
			refresh_pending(d);
			while (!d->stopping && !d->kicked)
				pthread_cond_wait(&d->wake, &d->lock);
			d->kicked = false;
			continue;
		}
		if (r < 0) {
			snprintf(d->st.last_error, sizeof(d->st.last_error), "spool read: %s", strerror(-r));
			r = -EIO; /* retried: never taken for a refusal of a record we do not have */
		} else {
			pthread_mutex_unlock(&d->lock);
			r = d->cfg.send(d->cfg.ctx, data, len, err, sizeof(err));
			pthread_mutex_lock(&d->lock);
			free(data);
		}
		if (r == 0 || r == -EBADMSG) {
			spool_remove(d->spool, seq);
			if (r == 0) {
				d->st.delivered++;
			} else {
				d->st.refused++;
				log_error("%s: record %llu refused for good, dropped: %s", d->what,
					  (unsigned long long)seq, err);
			}
			if (d->st.backing_off)
				log_info("%s: delivering again", d->what);
			d->st.backing_off = false;
			delay = d->cfg.backoff_min_ms;
			refresh_pending(d);
			continue;
		}
		d->st.retries++;
		if (err[0])
			snprintf(d->st.last_error, sizeof(d->st.last_error), "%s", err);
		if (!d->st.backing_off)
			log_warn("%s: not delivered (%s); %llu waiting in the spool, retrying with backoff", d->what,
				 d->st.last_error, (unsigned long long)d->st.pending);
		d->st.backing_off = true;
		refresh_pending(d);
		{
			struct timespec until;

			deadline_after(&until, jittered(d, delay));
			while (!d->stopping && !d->kicked &&
			       pthread_cond_timedwait(&d->wake, &d->lock, &until) != ETIMEDOUT)
				;
			d->kicked = false;
		}
		delay = delay > d->cfg.backoff_max_ms / 2 ? d->cfg.backoff_max_ms : delay * 2;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int deliver_start(const struct deliver_config *cfg, struct deliver **ret)
{
	struct spool_config sc = { .dir = cfg->spool_dir, .max_bytes = cfg->spool_max_bytes, .what = cfg->what };
	pthread_condattr_t ca;
	struct deliver *d;
	int r;

	if (!cfg->send || !cfg->spool_dir || !cfg->spool_max_bytes)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->what = strdup(cfg->what ? cfg->what : "delivery");
	if (!d->cfg.backoff_min_ms)
		d->cfg.backoff_min_ms = 200;
	if (!d->cfg.backoff_max_ms)
		d->cfg.backoff_max_ms = 30000;
	if (d->cfg.backoff_max_ms < d->cfg.backoff_min_ms)
		d->cfg.backoff_max_ms = d->cfg.backoff_min_ms;
	d->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)d;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_cond_init(&d->idle, &ca);
	pthread_condattr_destroy(&ca);
	if (!d->what) {
		deliver_stop(d);
		return -ENOMEM;
	}
	r = spool_open(&sc, &d->spool);
	if (r < 0) {
		deliver_stop(d);
		return r;
	}
	refresh_pending(d);
	if (d->st.pending)
		log_info("%s: %llu records left by an earlier run, sending them first", d->what,
			 (unsigned long long)d->st.pending);
	{
		/* Signals belong to the caller's loop (signalfd/sigwait): the sender takes none. */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r = -pthread_create(&d->thread, NULL, deliver_thread, d);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r) {
		deliver_stop(d);
		return r;
	}
	d->started = true;
	*ret = d;
	return 0;
}

int deliver_submit(struct deliver *d, const void *data, size_t len, uint64_t *ret_dropped)
{
	uint64_t seq, dropped = 0;
	int r = spool_append(d->spool, data, len, &seq, &dropped);

	pthread_mutex_lock(&d->lock);
	if (r == 0) {
		d->st.submitted++;
		d->st.dropped += dropped;
		d->kicked = !d->st.backing_off || d->kicked;
		pthread_cond_signal(&d->wake);
	} else {
		d->st.spool_errors++;
		snprintf(d->st.last_error, sizeof(d->st.last_error), "spool write: %s", strerror(-r));
	}
	refresh_pending(d);
	pthread_mutex_unlock(&d->lock);
	if (dropped)
		log_error("%s: spool over its bound: the %llu oldest records were dropped", d->what,
			  (unsigned long long)dropped);
	if (ret_dropped)
		*ret_dropped = dropped;
	return r;
}

void deliver_kick(struct deliver *d)
{
	pthread_mutex_lock(&d->lock);
	d->kicked = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
}

void deliver_get_stats(struct deliver *d, struct deliver_stats *ret)
{
	pthread_mutex_lock(&d->lock);
	refresh_pending(d);
	*ret = d->st;
	pthread_mutex_unlock(&d->lock);
}

bool deliver_flush(struct deliver *d, unsigned int timeout_ms)
{
	struct timespec until;
	bool empty;

	deadline_after(&until, timeout_ms);
	pthread_mutex_lock(&d->lock);
	refresh_pending(d);
	while (d->st.pending && pthread_cond_timedwait(&d->idle, &d->lock, &until) != ETIMEDOUT)
		refresh_pending(d);
	refresh_pending(d);
	empty = d->st.pending == 0;
	pthread_mutex_unlock(&d->lock);
	return empty;
}

void deliver_stop(struct deliver *d)
{
	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stopping = true;
		pthread_cond_signal(&d->wake);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	spool_close(d->spool);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->idle);
	pthread_mutex_destroy(&d->lock);
	free(d->what);
	free(d);
}
