// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * celld without libmicrohttpd: -o http=... is refused with the reason
 * instead of being ignored.
 */
#include <errno.h>

#include "celld.h"
#include "http.h"

int celld_http_start(struct celld *d)
{
	const char *spec = celld_option(d, "http", NULL);

	if (!spec || !*spec)
		return 0;
	celld_log("http: celld was built without libmicrohttpd (tools/deps.sh build)");
	return -ENOTSUP;
}

void celld_http_stop(struct celld *d)
{
	(void)d;
}
