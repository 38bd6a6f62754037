/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Paging the on-call person when a namespace is isolated (it hits every
 * workload in it). Two targets, either or both: a generic JSON webhook, and
 * falcosidekick's HTTP input, which takes a Falco-shaped event (priority
 * Critical, rule "reflex: namespace isolated") and routes it like any
 * Critical alert (Telegram, Slack, PagerDuty: whatever the cluster has).
 * Each page goes through a durable spool per target and is retried until it
 * is taken or PAGE_GIVE_UP_S has passed; every outcome is audited as a
 * "page" record (delivered, retried once per page, given_up).
 */
#ifndef REFLEX_PAGE_H
#define REFLEX_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"

#define PAGE_RULE "reflex: namespace isolated"
#define PAGE_GIVE_UP_S_DEFAULT 3600

/* Called from the sender threads for each page record; must be thread-safe. */
typedef void (*page_audit_fn)(void *ctx, const struct audit_record *r);

struct page_config {
	const char *webhook_url;     /* NULL or "": none */
	const char *sidekick_url;    /* falcosidekick's input, e.g. http://falcosidekick.falco.svc:2801/; NULL or "": none */
	const char *spool_dir;       /* one spool per target below it */
	const char *instance;        /* this replica: the event's hostname and the records' operator detail */
	unsigned int give_up_s;      /* 0: PAGE_GIVE_UP_S_DEFAULT */
	unsigned int timeout_ms;     /* per attempt; 0: 5000 */
	page_audit_fn audit;
	void *audit_ctx;
};

struct page_stats {
	uint64_t delivered, retries, given_up, spool_errors;
};

struct pager;

/* 0 and *RET (a pager with no target is valid: page_isolation then says nobody is paged), or -errno. */
int pager_start(const struct page_config *cfg, struct pager **ret);
bool pager_has_targets(const struct pager *p);
/*
 * Spools one page per target for the isolation of NS by RULE (EVENT_ID) and
 * returns at once. 0, or -errno when no target could spool it (disk full):
 * the caller's audit record says nobody was paged.
 */
int page_isolation(struct pager *p, const char *ns, const char *rule, const char *event_id, const char *reason);
void pager_get_stats(struct pager *p, struct page_stats *ret);
/* Gives queued pages up to TIMEOUT_MS, then stops; what is left stays spooled for the next start. */
void pager_stop(struct pager *p, unsigned int timeout_ms);

/* The Falco-shaped event falcosidekick takes (compact JSON, malloc'd); NULL on ENOMEM. For tests. */
char *page_sidekick_body(const char *ns, const char *rule, const char *event_id, const char *reason,
			 const char *hostname, int64_t time_ns);

#endif
