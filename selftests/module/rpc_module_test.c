// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libcell's whole RPC suite (selftests/rpc/rpc_test.c) inside the VM, where
 * cell.ko is loaded: its "module" variant runs every call over /dev/cell
 * rings (path shm-module) next to the memfd and unix variants, on the
 * distribution's kernel.
 *
 * vm-sources: lib/client.c lib/opts.c lib/resilience.c lib/server.c lib/channel.c lib/handshake.c lib/transport_unix.c lib/attachment.c lib/runtime_dir.c lib/last_error.c lib/time.c lib/wire.c lib/ring.c lib/ring_module.c lib/metrics.c lib/register.c lib/trace.c
 */
#include "../rpc/rpc_test.c"
