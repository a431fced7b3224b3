/* SPDX-License-Identifier: MIT */
/* The demo's "little simulated activity": a person editing items in the
 * simulated services every few seconds, so `demo` shows syncing at work. */
#pragma once

#include <jansson.h>
#include <uv.h>

struct acs_curl_loop;
struct demo_activity;

/** info is the simulators' /_sim/info document (borrowed: what is needed is
 *  copied). Nothing happens until demo_activity_start. */
struct demo_activity *demo_activity_new(uv_loop_t *loop, const json_t *info);
/** Begin editing every interval_ms through cl (borrowed until _close). */
void demo_activity_start(struct demo_activity *a, struct acs_curl_loop *cl, uint64_t interval_ms);
/** Stop making new edits (in-flight ones finish or are canceled by cl). */
void demo_activity_stop(struct demo_activity *a);
/** Close the timer and free a once no request is in flight. NULL is a no-op. */
void demo_activity_close(struct demo_activity *a);
