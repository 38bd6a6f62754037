// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The fix for a classified event: bake the binary into the image (preferred),
 * else the scoped exception, else a refusal that says why; and the one-line
 * gotcha for the team's notes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

char *triage_image_repository(const char *image)
{
	const char *at, *slash, *colon;

	if (!image || !*image)
		return NULL;
	at = strchr(image, '@');
	if (at)
		return strndup(image, (size_t)(at - image));
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	return colon ? strndup(image, (size_t)(colon - image)) : strdup(image);
}

void triage_fix_clear(struct triage_fix *f)
{
	if (!f)
		return;
	free(f->bake_text);
	free(f->bake_package);
	free(f->bake_dockerfile);
	free(f->scope_text);
	free(f->falco_yaml);
	free(f->reflex_yaml);
	free(f->image_repo);
	free(f->comment);
	free(f->refused);
	memset(f, 0, sizeof(*f));
}

enum pkgmgr { PM_NONE = 0, PM_APK, PM_APT, PM_PIP, PM_NPM };

static enum pkgmgr manager_of(const char *name)
{
	const char *base;

	if (!name)
		return PM_NONE;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (!strcmp(base, "apk"))
		return PM_APK;
	if (!strcmp(base, "apt-get") || !strcmp(base, "apt") || !strcmp(base, "dpkg"))
		return PM_APT;
	if (!strcmp(base, "pip") || !strcmp(base, "pip3"))
		return PM_PIP;
	if (!strcmp(base, "npm"))
		return PM_NPM;
	return PM_NONE;
}

/*
 * "apk add --no-cache curl jq" -> PM_APK and "curl jq" (*RET, malloc'd).
 * Only names a Dockerfile line can carry: the cmdline is the attacker's text.
 */
static int install_in_cmdline(const char *cmdline, enum pkgmgr *pm, char **ret)
{
	struct sbuf b = { 0 };
	char *copy, *save = NULL, *tok;
	enum pkgmgr found = PM_NONE;
	bool verb = false, global = false;

	*ret = NULL;
	*pm = PM_NONE;
	if (!cmdline)
		return 0;
	copy = strdup(cmdline);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!found) {
			found = manager_of(tok);
			continue;
		}
		if (!verb) {
			verb = (found == PM_APK && !strcmp(tok, "add")) ||
			       ((found == PM_APT || found == PM_PIP) && !strcmp(tok, "install")) ||
			       (found == PM_NPM && (!strcmp(tok, "i") || !strcmp(tok, "install")));
			if (!verb && tok[0] != '-') /* "apk --no-cache add" has options first */
				found = manager_of(tok);
			continue;
		}
		if (!strcmp(tok, "-g") || !strcmp(tok, "--global"))
			global = true;
		if (tok[0] == '-')
			continue;
		if (!package_ok(tok))
			break; /* "&&", ";", a URL with a query: the rest is not a package list */
		sb_printf(&b, "%s%s", b.len ? " " : "", tok);
	}
	free(copy);
	if (!verb || (found == PM_NPM && !global) || !b.len) {
		sb_free(&b);
		return 0;
	}
	*pm = found;
	*ret = sb_take(&b);
	return *ret ? 0 : -ENOMEM;
}

static int bake(const struct triage_event *e, const struct triage_pattern *t, struct triage_fix *f)
{
	enum pkgmgr pm = PM_NONE;
	char *pkgs = NULL;
	struct sbuf b = { 0 };
	const char *pkg;
	int r;

	if (!e->exe_path)
		return 0; /* nothing to name: the exception path says why */
	if ((r = install_in_cmdline(e->cmdline, &pm, &pkgs)))
		return r;
	pkg = t && t->package ? t->package : pkgs;
	if (!pm)
		pm = manager_of(e->parent) ?: manager_of(e->gparent);
	if (!pm && e->image)
		pm = strstr(e->image, "alpine")				       ? PM_APK
		     : strstr(e->image, "debian") || strstr(e->image, "ubuntu") ? PM_APT
										 : PM_NONE;
	if (pkg && !(f->bake_package = strdup(pkg)))
		goto oom;
	if (pkg) {
		/* The Dockerfile line: before and after the package names. */
		static const char *const pre[] = {
			[PM_APK] = "RUN apk add --no-cache ",
			[PM_APT] = "RUN apt-get update && apt-get install -y --no-install-recommends ",
			[PM_PIP] = "RUN pip install --no-cache-dir ",
			[PM_NPM] = "RUN npm install -g ",
		};
		static const char *const post[] = {
			[PM_APT] = " && rm -rf /var/lib/apt/lists/*",
		};

		if (pm && asprintf(&f->bake_dockerfile, "%s%s%s", pre[pm], pkg,
				   (size_t)pm < ARRAY_SIZE(post) && post[pm] ? post[pm] : "") < 0) {
			f->bake_dockerfile = NULL;
			goto oom;
		}
	}
	sb_puts(&b, "bake ");
	if (t && t->package) {
		sb_text(&b, pkg, 0);
		sb_puts(&b, " (provides ");
		sb_text(&b, e->exe_path, 0);
		sb_putc(&b, ')');
	} else if (pkg) {
		/* The event is the installer, itself installed at run time. */
		sb_puts(&b, "what this install adds (");
		sb_text(&b, pkg, 0);
		sb_puts(&b, ") and the package that provides ");
		sb_text(&b, e->exe_path, 0);
	} else {
		sb_puts(&b, "the package that provides ");
		sb_text(&b, e->exe_path, 0);
	}
	sb_puts(&b, " into the image instead of installing at run time: it ran from ");
	sb_text(&b, e->parent ? e->parent : "an unknown parent", 0);
	if (e->gparent) {
		sb_puts(&b, " (under ");
		sb_text(&b, e->gparent, 0);
		sb_putc(&b, ')');
	}
	sb_puts(&b, " in ");
	sb_text(&b, e->namespace_, 0);
	sb_putc(&b, '/');
	sb_text(&b, e->pod, 0);
	sb_puts(&b, "; add it to the image build (");
	if (e->image) {
		sb_puts(&b, "FROM ");
		sb_text(&b, e->image, 0);
	} else {
		sb_puts(&b, "the workload's image");
	}
	sb_puts(&b, "), push, and pin the result by digest (image: REPOSITORY@sha256:DIGEST) in the workload, so "
		    "every run is the reviewed image");
	if (!pkg && pm == PM_APK) {
		sb_puts(&b, "; find the package with `apk info --who-owns ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, "`");
	} else if (!pkg && pm == PM_APT) {
		sb_puts(&b, "; find the package with `dpkg -S ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, "`");
	}
	sb_putc(&b, '.');
	if (!(f->bake_text = sb_take(&b)))
		goto oom;
	free(pkgs);
	return 0;
oom:
	sb_free(&b);
	free(pkgs);
	return -ENOMEM;
}

#define REFUSE_REAL                                                                                         \
	"no fix: a real attack is contained and investigated, never excepted; escalate to a security review " \
	"(and isolate or kill per policy)"
#define REFUSE_UNKNOWN                                                                                        \
	"no fix: unknown is treated as real; escalate to a security review before any image change or exception"

int triage_fix_for(const struct triage_event *e, const struct triage_verdict *v, struct triage_fix *f)
{
	const struct triage_pattern *t = v ? v->pattern : NULL;
	struct triage_scope scope = { 0 };
	struct sbuf b = { 0 };
	char err[512];
	int r;

	memset(f, 0, sizeof(*f));
	if (!v || v->cls != TRIAGE_BENIGN) {
		f->refused = strdup(v && v->cls == TRIAGE_REAL ? REFUSE_REAL : REFUSE_UNKNOWN);
		return f->refused ? 0 : -ENOMEM;
	}
	if (t && t->fix == TRIAGE_FIX_IMAGE_BAKE && (r = bake(e, t, f)))
		goto out;
	if ((f->image_repo = triage_image_repository(e->image)) == NULL && e->image) {
		r = -ENOMEM;
		goto out;
	}
	scope = (struct triage_scope){ .rule = e->rule, .namespace_ = e->namespace_, .exe_path = e->exe_path,
				       .image_repo = f->image_repo };
	if (asprintf(&f->comment, "baseline pattern '%s'", t ? t->name : "?") < 0) {
		f->comment = NULL;
		r = -ENOMEM;
		goto out;
	}
	scope.comment = f->comment;
	r = triage_falco_override(&scope, 1, &f->falco_yaml, err, sizeof(err));
	if (!r)
		r = triage_reflex_exceptions(&scope, 1, &f->reflex_yaml, err, sizeof(err));
	if (r == -EINVAL) {
		/* No scope this narrow is possible: say so rather than widen it. */
		free(f->falco_yaml);
		f->falco_yaml = NULL;
		if (asprintf(&f->refused, "no exception: %s", err) < 0) {
			f->refused = NULL;
			r = -ENOMEM;
			goto out;
		}
		r = 0;
	} else if (r) {
		goto out;
	} else {
		sb_puts(&b, "namespace ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, ", exe ");
		sb_text(&b, e->exe_path, 0);
		if (f->image_repo) {
			sb_puts(&b, ", image ");
			sb_text(&b, f->image_repo, 0);
		}
		if (!(f->scope_text = sb_take(&b))) {
			r = -ENOMEM;
			goto out;
		}
	}
	f->preferred = f->bake_text ? TRIAGE_FIX_IMAGE_BAKE : f->falco_yaml ? TRIAGE_FIX_EXCEPTION : TRIAGE_FIX_NONE;
out:
	sb_free(&b);
	if (r)
		triage_fix_clear(f);
	return r;
}

/* "headscale-backup-29391780-mz8qd" -> "headscale-backup", "web-7d9f4b-x1k2m" -> "web". */
static char *workload_of(const char *pod)
{
	size_t n = strlen(pod);
	const char *dash;
	bool cut = false;

	dash = memrchr(pod, '-', n);
	if (dash && n - (size_t)(dash - pod) - 1 == 5) {
		n = (size_t)(dash - pod);
		cut = true;
	}
	dash = memrchr(pod, '-', n);
	if (dash) {
		size_t seg = n - (size_t)(dash - pod) - 1, d = strspn(dash + 1, "0123456789");

		if (seg && (d >= seg || (cut && seg >= 6 && seg <= 10)))
			n = (size_t)(dash - pod);
	}
	return strndup(pod, n);
}

char *triage_gotcha(const struct triage_event *e, const struct triage_verdict *v, const struct triage_fix *f)
{
	struct sbuf b = { 0 };
	char *who = e->pod ? workload_of(e->pod) : NULL;

	if (e->pod && !who)
		return NULL;
	sb_puts(&b, "Gotcha: ");
	if (v->cls == TRIAGE_BENIGN && f && f->preferred == TRIAGE_FIX_IMAGE_BAKE) {
		sb_text(&b, who ? who : "the workload", 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " installs ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " at run time, so every run pages '");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "': bake it into a digest-pinned image (an exception is the fallback, never muting the rule).");
	} else if (v->cls == TRIAGE_BENIGN) {
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " trips '");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "' by design (");
		sb_text(&b, v->pattern ? v->pattern->name : "baseline", 0);
		sb_puts(&b, "): keep the exception scoped to namespace + exe path, never the whole rule.");
	} else {
		/* Real or unknown: which rule, what ran where, then the verdict. */
		sb_puts(&b, "'");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "' from ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		if (v->cls == TRIAGE_REAL) {
			sb_puts(&b, " was real (");
			sb_text(&b, v->pattern ? v->pattern->name : "indicator", 0);
			sb_puts(&b, "): contain first, then find how it got in; no exception.");
		} else {
			sb_puts(&b, " matched no baseline pattern: treated as real and escalated; add a pattern only after "
				    "the review.");
		}
	}
	free(who);
	return sb_take(&b);
}
