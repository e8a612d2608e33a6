// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libcell's whole RPC suite (selftests/rpc/rpc_test.c) inside the VM, where
 * cell.ko is loaded: its "module" variant runs every call over /dev/cell
 * rings (path shm-module) next to the memfd and unix variants, on the
 * distribution's kernel.
 */
#include "../rpc/rpc_test.c"
