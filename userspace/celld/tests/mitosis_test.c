// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Mitosis decisions (mitosis.c) and the instances= / scale_* conf keys
 * (capsid_conf.c): a rising load takes 1 -> 3 instances and no further,
 * a falling one back to 1 and no fewer, only after the configured times.
 * Simulated time; no processes.
 */
#include <string.h>

#include "capsid_conf.h"
#include "mitosis.h"
#include "kselftest_harness.h"

/* capsid_conf.c logs through celld's log; here, the reasons are the test's. */
void celld_log(const char *fmt, ...)
{
	(void)fmt;
}

static void conf(struct capsid_conf *cf, const char *const *kv)
{
	struct capsid_why w = { 0 };

	capsid_conf_defaults(cf);
	for (; kv[0]; kv += 2)
		capsid_conf_set(cf, kv[0], kv[1], &w);
	capsid_conf_set(cf, "name", "m", &w);
	capsid_conf_set(cf, "exec", "/bin/true", &w);
	capsid_conf_check(cf, &w);
	if (w.bad)
		cf->name[0] = '\0'; /* marks refused */
}

TEST(keys)
{
	struct capsid_conf cf;
	static const char *const ok[] = { "instances", "1..3", "scale_target_inflight", "4",
					  "scale_down_after_ms", "300", NULL };
	static const char *const bad[][5] = {
		{ "instances", "1..3", NULL },				 /* no target */
		{ "instances", "3..1", "scale_target_inflight", "4", NULL }, /* MIN > MAX */
		{ "instances", "0..2", "scale_target_inflight", "4", NULL },
		{ "instances", "1..17", "scale_target_inflight", "4", NULL },
		{ "instances", "1..", "scale_target_inflight", "4", NULL },
		{ "instances", "..3", "scale_target_inflight", "4", NULL },
		{ "instances", "-1..3", "scale_target_inflight", "4", NULL },
		{ "instances", "1..3x", "scale_target_inflight", "4", NULL },
	};

	conf(&cf, ok);
	ASSERT_STREQ("m", cf.name);
	ASSERT_EQ(1u, cf.inst_min);
	ASSERT_EQ(3u, cf.inst_max);
	ASSERT_EQ(4u, cf.scale_target_inflight);
	ASSERT_EQ(300u, cf.scale_down_after_ms);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf(&cf, bad[i]);
		EXPECT_STREQ("", cf.name) TH_LOG("case %zu accepted", i);
	}
	{
		static const char *const two[] = { "instances", "2", NULL };

		conf(&cf, two);
		ASSERT_STREQ("m", cf.name); /* fixed: no target needed */
		ASSERT_EQ(2u, cf.inst_min);
		ASSERT_EQ(2u, cf.inst_max);
	}
}

TEST(up_to_max_and_back_to_min)
{
	static const char *const kv[] = { "instances", "1..3", "scale_target_inflight", "4",
					  "scale_up_after_ms", "500", "scale_down_after_ms",
					  "2000", NULL };
	struct capsid_conf cf;
	struct mitosis m = { 0 };
	struct mitosis_sample s = { .instances = 1 };
	uint64_t t = 1000, first_up = 0, first_down = 0;
	unsigned int peak = 1;

	conf(&cf, kv);
	ASSERT_STREQ("m", cf.name);
	/* 40 calls in flight over the group for 5 s: 1 -> 3, never 4. */
	for (; t < 6000; t += 100) {
		int d;

		s.inflight_sum = 40;
		d = mitosis_step(&m, &cf, t, &s);
		ASSERT_TRUE(d >= 0);
		if (d > 0 && !first_up)
			first_up = t;
		s.instances += (unsigned int)d;
		peak = s.instances > peak ? s.instances : peak;
	}
	ASSERT_EQ(3u, peak);
	ASSERT_EQ(3u, s.instances);
	ASSERT_EQ(1500u, first_up); /* 500 ms above target, not at once */
	/* Load gone: back to 1 after scale_down_after_ms per step, never 0. */
	for (; t < 16000; t += 100) {
		int d;

		s.inflight_sum = 0;
		d = mitosis_step(&m, &cf, t, &s);
		ASSERT_TRUE(d <= 0);
		if (d < 0 && !first_down)
			first_down = t;
		s.instances = (unsigned int)((int)s.instances + d);
	}
	ASSERT_EQ(1u, s.instances);
	ASSERT_EQ(8000u, first_down); /* 6000 + 2000 */
}

TEST(hysteresis_and_fixed)
{
	static const char *const kv[] = { "instances", "1..3", "scale_target_inflight", "4",
					  NULL };
	struct capsid_conf cf;
	struct mitosis m = { 0 };
	struct mitosis_sample s = { .instances = 2, .inflight_sum = 6 };

	conf(&cf, kv);
	/* 3 per instance: under 4, over 2: neither grows nor shrinks. */
	for (uint64_t t = 1000; t < 20000; t += 100)
		ASSERT_EQ(0, mitosis_step(&m, &cf, t, &s));
	/* A p99 target alone. */
	{
		static const char *const p[] = { "instances", "1..2", "scale_target_p99_us", "5000",
						 "scale_up_after_ms", "0", NULL };
		struct mitosis m2 = { 0 };
		struct mitosis_sample s2 = { .instances = 1, .p99_us = 9000 };

		conf(&cf, p);
		ASSERT_EQ(1, mitosis_step(&m2, &cf, 100, &s2));
		s2.instances = 2;
		ASSERT_EQ(0, mitosis_step(&m2, &cf, 200, &s2)); /* at MAX */
	}
	/* instances=1 (the default): never scaled. */
	{
		static const char *const none[] = { NULL };
		struct mitosis m3 = { 0 };
		struct mitosis_sample s3 = { .instances = 1, .inflight_sum = 1000 };

		conf(&cf, none);
		for (uint64_t t = 0; t < 10000; t += 100)
			ASSERT_EQ(0, mitosis_step(&m3, &cf, t, &s3));
	}
}

TEST_HARNESS_MAIN
