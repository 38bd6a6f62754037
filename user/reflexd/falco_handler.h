/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Falco's side of the agent: the intake (falco_feed) started from the
 * config, and what reflexd does with each alert. An alert for a process that
 * already has an open incident joins it (one record more, no second
 * action); any other is attributed from the runtime and the Kubernetes API
 * (never from the alert's own k8s.* fields), decided by policy, acted on
 * (kill.h) and recorded (incident.h).
 */
#ifndef REFLEX_FALCO_HANDLER_H
#define REFLEX_FALCO_HANDLER_H

struct agent;

/*
 * The Falco intake agent.falco_socket / agent.falco_http_address ask for, in
 * the loop's epoll set; none configured is not an error. 0 or -errno.
 */
int falco_handler_start(struct agent *a);
/* Drains the intake queue; a budget keeps kernel events flowing during a flood. */
void falco_handler_on_feed(struct agent *a);

#endif
