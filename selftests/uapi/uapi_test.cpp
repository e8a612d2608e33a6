// SPDX-License-Identifier: GPL-2.0-only OR MIT
// The same checks compiled as C++17: the header must be usable from C++.
#include "uapi_test.c"
