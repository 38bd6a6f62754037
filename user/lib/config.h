/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * config.yaml: one file for agent and controller (DESIGN.md "Contracts").
 * Parsed with libyaml into plain structs; every error names file, line and key.
 */
#ifndef REFLEX_CONFIG_H
#define REFLEX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum reflex_action {
	ACTION_ALERT = 0,
	ACTION_KILL_PROCESS,
	ACTION_KILL_CONTAINER,
	ACTION_KILL_POD,          /* kill on the node, then the controller deletes the pod */
	ACTION_ISOLATE_NAMESPACE, /* controller only: the node alerts */
};

/* "alert", "kill_process", ...; NULL for an out-of-range value. */
const char *action_name(enum reflex_action action);
/*
 * The audit record's `reason` for a rule that sets no audit_reason: a fixed
 * text per action (README, "Audit records"). Never NULL.
 */
const char *action_default_audit_reason(enum reflex_action action);
/* 0 and *ret set, or -EINVAL for an unknown name. */
int action_from_name(const char *name, enum reflex_action *ret);
/* True for the actions the node carries out by killing. */
bool action_kills(enum reflex_action action);

enum tristate { TRISTATE_UNSET = -1, TRISTATE_FALSE = 0, TRISTATE_TRUE = 1 };

struct reflex_rule {
	char *name;            /* Falco rule name, matched exactly */
	enum reflex_action action;
	char *audit_reason;    /* copied into the audit record's reason */
	enum tristate dryrun;  /* UNSET: the global dryrun applies */
};

/* A scoped exception: every field that is set must match; rule is required. */
struct reflex_exception {
	char *rule;
	char *namespace_; /* exact, or NULL for any */
	char *exe_path;   /* fnmatch(3) glob with FNM_PATHNAME ('*' stays in one directory), or NULL for any */
	char *image;      /* fnmatch(3) glob, or NULL for any */
};

enum unknown_owner_policy {
	UNKNOWN_OWNER_REFUSE = 0, /* fail safe: no kill when the pod's owner is not known */
	UNKNOWN_OWNER_ALLOW,
};

struct agent_config {
	char *node_name;         /* default: $NODE_NAME, else gethostname() */
	char *cgroup_root;       /* default NULL: found from /proc/self/mountinfo */
	char **containerd_roots; /* default: /run/containerd, /run/k3s/containerd */
	size_t n_containerd_roots;
	char *crio_root;         /* default: /run/containers/storage */
	char *audit_log;         /* default: /var/log/reflex/audit.log; "" disables the file */
	bool audit_stdout;       /* default true */
	bool enforce_in_kernel;  /* default true: bpf_send_signal where policy allows */
	bool deny_exec_in_kernel; /* default true: refuse such execs with BPF LSM where it runs */
	bool drop_capabilities;  /* default true: keep only caps_agent_keeps once programs are loaded */
	char *metrics_address;   /* default 127.0.0.1:9464; "" disables the HTTP server */
	char *exec_rule;         /* default "Drop and execute new binary in container" */
	char *fileless_rule;     /* default "Fileless execution via memfd_create" */
	enum unknown_owner_policy unknown_owner; /* default refuse */
	unsigned int kill_timeout_ms; /* wait for cgroup.events "populated 0"; default 1000 */
	char *log_level;         /* error|warn|info|debug; default info */
	/* Mining pools (connect hooks). */
	char *pool_rule;         /* default "Detect outbound connections to common miner pool ports" */
	char *stratum_rule;      /* default "Detect crypto miners using the Stratum protocol" */
	char *pool_lists;        /* more lists, added to the built-in ones; default "" (none) */
	bool pool_lists_builtin; /* Falco's lists compiled into reflexd; default true */
	char **pool_cidrs;       /* extra pool CIDRs, any miner port; default none */
	size_t n_pool_cidrs;
	bool pool_port_only;     /* a miner port to any non-private address matches; default false */
	bool pool_exclude_private; /* loopback/RFC 1918/ULA never match; default true */
	unsigned int pool_resolve_interval_s; /* re-resolve domains; default 300 (1..86400) */
	bool block_pool_connections; /* deny pool connects (EPERM) where the rule kills; default true */
	bool scan_stratum_argv;  /* flag execs whose argv has stratum+tcp:// etc.; default true */
	bool watch_stratum_handshake; /* cgroup_skb/egress reads each container TCP connection's first
				       * payload (a program run per packet on the node); default true */
	/* Falco feed (issue: Falco alerts read locally). */
	char *falco_socket;      /* unix stream socket; default /run/reflex/falco.sock; "" disables */
	unsigned int falco_socket_mode; /* default 0660 */
	unsigned int *falco_peer_uids;  /* SO_PEERCRED uids allowed to write; default [0] */
	size_t n_falco_peer_uids;
	char *falco_http_address; /* loopback HOST:PORT for http_output/sidekick; default "" (off) */
	char *falco_http_token_file; /* X-Falco-Token required when set; default "" (none) */
	unsigned int falco_max_alert_bytes; /* default 1 MiB */
	unsigned int falco_queue_size;  /* alerts held between reader and event loop; default 4096 */
	unsigned int correlation_window_ms; /* Falco alert <-> kernel event; default 5000 */
	/* Kill rate limit per rule: past it the rule disarms to alert-only until reload. */
	unsigned int rate_limit_containers;  /* distinct containers killed in the window; default 5 */
	unsigned int rate_limit_executables; /* distinct exe paths killed in the window; default 5 */
	unsigned int rate_limit_window_s;    /* default 60 */
	/* Pod owners from the Kubernetes API (node-scoped list+watch). */
	char *kubernetes_api;     /* "auto" (in-cluster when KUBERNETES_SERVICE_HOST is set), "" off, or a URL */
	char *kubernetes_token_file; /* default the service account token; "" none */
	char *kubernetes_ca_file;    /* default the service account ca.crt; "" system CAs */
	/* Reports to reflex-controller (durable spool, retried until acknowledged). */
	char *controller_url;        /* e.g. http://reflex-controller.reflex:2801; "" (default): audit only */
	char *controller_token_file; /* sent as X-Falco-Token; default "" (none) */
	char *report_spool_dir;      /* default /var/lib/reflex/reports */
	unsigned int report_spool_max_bytes; /* default 64 MiB; past it the oldest are dropped, audited */
};

/* reflex-controller's own keys (the controller: section). */
struct controller_config {
	char *listen_address;     /* HOST:PORT for /alert, /healthz, /readyz, /metrics; default 0.0.0.0:8080 */
	char *token_file;         /* X-Falco-Token expected; default /etc/reflex/token; "" accepts any (warned) */
	unsigned int max_body_bytes; /* default 1 MiB */
	char *kubernetes_api;     /* "auto", "" off, or a URL */
	char *kubernetes_token_file;
	char *kubernetes_ca_file;
	char *gelf_http_url;      /* Graylog GELF HTTP input, e.g. http://graylog:12201/gelf; "" off */
	char *gelf_udp_address;   /* HOST:PORT of a GELF UDP input; "" off */
	char *gelf_stream;        /* _stream field; default falco-automated-response */
	char *audit_spool_dir;    /* undelivered audit records; default /var/lib/reflex-controller/audit */
	unsigned int audit_spool_max_bytes; /* default 64 MiB */
	char *page_webhook_url;   /* POSTed when a namespace is isolated; "" off (logged loudly) */
	char *page_falcosidekick_url; /* falcosidekick's input: a Falco Critical event per isolation; "" off */
	unsigned int page_give_up_s;  /* a page not taken by then is given up (audited); default 3600 */
	bool kubernetes_events;   /* an Event (events.k8s.io/v1) per decision and node action; default true */
	unsigned int dedupe_window_s; /* one action per incident within it; default 600 */
	/* Runaway disarm per rule, as the agent's: distinct pods deleted / namespaces isolated in the window. */
	unsigned int rate_limit_pods;       /* default 5 (the agent's rate_limit_containers default) */
	unsigned int rate_limit_namespaces; /* default 5 */
	unsigned int rate_limit_window_s;   /* default 60 */
	char *operator_;          /* the audit record's operator; default reflex-controller */
	char *log_level;          /* default info */
};

struct reflex_config {
	char *path;              /* the file it was read from */
	bool dryrun;             /* global; default false */
	char **allowed_namespaces; /* fnmatch globs; empty: no namespace is allowed */
	size_t n_allowed_namespaces;
	char **denied_namespaces;  /* fnmatch globs; always win over allowed */
	size_t n_denied_namespaces;
	char **protected_owners;   /* owner kinds, e.g. DaemonSet; "Node" (static pod) is always protected */
	size_t n_protected_owners;
	struct reflex_rule *rules;
	size_t n_rules;
	struct reflex_exception *exceptions;
	size_t n_exceptions;
	struct agent_config agent;
	struct controller_config controller;
	bool has_controller_section; /* a controller: mapping was present */
};

/*
 * Reads and validates FILE. On success returns 0 and *ret_config (free with
 * config_free). On failure returns a negative errno and writes a one-line
 * message "FILE:LINE: key 'x': what is wrong" into err (size errlen).
 */
int config_load(const char *path, struct reflex_config **ret_config, char *err, size_t errlen);
/* Same, from a buffer; name is used in messages. */
int config_parse(const char *name, const char *text, size_t len, struct reflex_config **ret_config,
		 char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
struct reflex_config *config_free(struct reflex_config *config);

const struct reflex_rule *config_find_rule(const struct reflex_config *config, const char *name);

/*
 * reflexd's command-line options that override config keys. They are applied
 * after every load, the first and each reload: a reload never undoes them.
 * Strings are borrowed (argv) and must outlive every load.
 */
struct config_overrides {
	const char *node, *metrics_address, *audit_log, *cgroup_root, *crio_root;
	const char *unknown_owner; /* "allow" or "refuse" */
	const char *log_level;
	const char *containerd_roots[8];
	size_t n_containerd_roots;
	bool dry_run;           /* every rule dry-run, whatever the file says (also a rule's dryrun: false) */
	bool no_kernel_enforce;
	bool no_exec_deny;
};

/* Applies O to CONFIG. 0, or -ENOMEM (CONFIG is then partly overridden: free it). */
int config_apply_overrides(struct reflex_config *config, const struct config_overrides *o);
/*
 * The overrides in force as command-line words ("--dry-run --unknown-owner
 * refuse"), "none" when there are none; truncated to SIZE. Returns BUF.
 */
char *config_overrides_describe(const struct config_overrides *o, char *buf, size_t size);

#endif
