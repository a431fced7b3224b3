/* SPDX-License-Identifier: MIT */
/* The dashboard assets of web/, compiled into the binary: web/embed.py
 * generates web_assets.c (the table below) at build time. */
#pragma once

#include <stddef.h>

/** One embedded file; every field points to static storage. */
struct acs_web_asset {
	const char *name;	   /**< file name in web/, e.g. "app.js" */
	const char *content_type;  /**< e.g. "text/javascript; charset=utf-8" */
	const unsigned char *data; /**< len bytes */
	size_t len;
	const unsigned char *gz; /**< gzip of data (mtime 0); NULL when not smaller */
	size_t gz_len;
	const char *etag; /**< strong ETag with its quotes: hash of data */
};

/** Every asset, sorted by name. */
extern const struct acs_web_asset acs_web_assets[];
extern const size_t acs_web_assets_count;

/** Hash over every asset but index.html: index.html names the others as
 *  "/assets/v-<version>/<name>", which may be cached for good. */
extern const char acs_web_assets_version[];

/** The asset called name ("index.html"), or NULL. */
const struct acs_web_asset *acs_web_asset_find(const char *name);
