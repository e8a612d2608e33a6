// SPDX-License-Identifier: GPL-2.0-only OR MIT

package main

func hostileTests() { panic("not written yet") }
