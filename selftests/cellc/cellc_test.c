// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Generated code of all.cell without a connection: layout, fingerprint,
 * builder -> validator round trips of every type, builder errors, and one
 * test per class of corruption the validators must refuse.
 */
#include <errno.h>
#include <string.h>

#include <cell/wire.h>

#include "all_util.h"
#include "kselftest_harness.h"

#define CAP 65536

static _Alignas(8) uint8_t buf[CAP];
static _Alignas(8) uint8_t buf2[CAP];

/* Builds the sample message into buf. */
static uint32_t sample(uint32_t nitems, uint32_t nwide)
{
	struct cellc_builder b;

	memset(buf, 0xee, sizeof(buf));
	cellc_builder_init(&b, buf, CAP);
	return sample_everything(&b, nitems, nwide);
}

static struct all_everything *msg(void)
{
	return (struct all_everything *)buf;
}

/* Validates buf[0..len) and checks the failure names @what. */
static int refused(uint32_t len, const char *what)
{
	const char *why = NULL;
	int e = all_everything_validate(buf, len, &why);

	if (e != -EBADMSG || !why || !strstr(why, what)) {
		fprintf(stderr, "# expected -EBADMSG naming '%s', got %d '%s'\n", what, e,
			why ? why : "(null)");
		return 0;
	}
	return 1;
}

TEST(fingerprint_is_cell_fingerprint_of_the_text)
{
	ASSERT_EQ(ALL_FINGERPRINT, cell_fingerprint(ALL_SCHEMA_TEXT, strlen(ALL_SCHEMA_TEXT)));
	ASSERT_EQ(0, strncmp(ALL_SCHEMA_TEXT, "schema all;\nstruct scalars { u8 a; u16 b;", 40));
}

TEST(layout)
{
	/* Natural alignment in declaration order, spans are 8 bytes aligned to 4. */
	ASSERT_EQ(40, ALL_SCALARS_SIZE);
	ASSERT_EQ(8, ALL_SCALARS_ALIGN);
	ASSERT_EQ(32, offsetof(struct all_scalars, t));
	ASSERT_EQ(20, ALL_NAMED_SIZE);
	ASSERT_EQ(4, ALL_NAMED_ALIGN);
	ASSERT_EQ(24, ALL_INNER_SIZE);
	ASSERT_EQ(4, offsetof(struct all_inner, who));
	ASSERT_EQ(160, ALL_EVERYTHING_SIZE);
	ASSERT_EQ(40, offsetof(struct all_everything, text));
	ASSERT_EQ(68, offsetof(struct all_everything, flags));
	ASSERT_EQ(72, offsetof(struct all_everything, pair));
	ASSERT_EQ(112, offsetof(struct all_everything, items));
	ASSERT_EQ(152, offsetof(struct all_everything, last));
	ASSERT_EQ(1, ALL_METHOD_ECHO);
	ASSERT_EQ(3, ALL_METHOD_NOTE);
}

TEST(round_trip_every_type)
{
	uint32_t len = sample(3, 4), n, n2;
	const struct all_everything *m = msg();
	const char *why = "unset";
	const struct all_inner *items;
	const struct all_scalars *plain;
	const uint64_t *wide;
	const int16_t *small;
	const uint8_t *votes, *blob;
	const char *s;
	struct cellc_builder b;

	ASSERT_LT(ALL_EVERYTHING_SIZE, len);
	ASSERT_EQ(0, all_everything_validate(buf, len, &why));
	ASSERT_STREQ("unset", why);
	ASSERT_EQ(0xa1, m->s.a);
	ASSERT_EQ(0xb0b1, m->s.b);
	ASSERT_EQ(0xc0c0c0c1U, m->s.c);
	ASSERT_EQ(0xd0d0d0d0d0d0d0d1ULL, m->s.d);
	ASSERT_EQ(-6, m->s.e);
	ASSERT_EQ(-1235, m->s.f);
	ASSERT_EQ(-123456790, m->s.g);
	ASSERT_EQ(-1234567890123456790LL, m->s.h);
	ASSERT_EQ(1, m->s.t);
	s = all_everything_text(m, &n);
	ASSERT_EQ(strlen("hello, cell ✓"), n);
	ASSERT_EQ(0, memcmp(s, "hello, cell ✓", n));
	blob = all_everything_blob(m, &n);
	ASSERT_EQ(5, n);
	ASSERT_EQ(0xff, blob[3]);
	ASSERT_EQ(333, m->nums[2]);
	ASSERT_EQ(1, m->flags[0]);
	s = all_named_name_at(m, &m->pair[1], &n);
	ASSERT_EQ(5, n);
	ASSERT_EQ(0, memcmp(s, "right", 5));
	/* pair[1].data was never set: empty. */
	all_named_data_at(m, &m->pair[1], &n);
	ASSERT_EQ(0, n);
	ASSERT_EQ(0, m->pair[1].data.off);
	items = all_everything_items(m, &n);
	ASSERT_EQ(3, n);
	ASSERT_EQ(0, ((uintptr_t)items - (uintptr_t)m) % ALL_INNER_ALIGN);
	ASSERT_EQ(102, items[2].id);
	s = all_named_name_at(m, &items[1].who, &n);
	ASSERT_EQ(strlen("één"), n);
	ASSERT_EQ(0, memcmp(s, "één", n));
	ASSERT_EQ(1, items[1].who.on);
	wide = all_everything_wide(m, &n);
	ASSERT_EQ(4, n);
	ASSERT_EQ(0, ((uintptr_t)wide - (uintptr_t)m) % 8);
	ASSERT_EQ(0x0102030405060708ULL * 4, wide[3]);
	votes = all_everything_votes(m, &n);
	ASSERT_EQ(3, n);
	ASSERT_EQ(1, votes[2]);
	small = all_everything_small(m, &n);
	ASSERT_EQ(5, n);
	ASSERT_EQ(-5, small[4]);
	plain = all_everything_plain(m, &n);
	ASSERT_EQ(2, n);
	ASSERT_EQ(0xa3, plain[1].a);
	ASSERT_EQ(1, plain[1].t);
	ASSERT_EQ(0x77, m->last);

	/* Rebuilding through the accessors gives the same bytes. */
	cellc_builder_init(&b, buf2, CAP);
	n2 = copy_everything(&b, buf);
	ASSERT_EQ(len, n2);
	ASSERT_EQ(0, memcmp(buf, buf2, len));
}

TEST(round_trip_empty_fields)
{
	struct cellc_builder b;
	struct all_everything *m;
	uint32_t n = 99;

	cellc_builder_init(&b, buf, CAP);
	m = all_everything_start(&b);
	ASSERT_NE(NULL, m);
	ASSERT_EQ(0, all_everything_set_text(&b, m, "", 0));
	ASSERT_NE(NULL, all_everything_alloc_items(&b, m, 0));
	ASSERT_EQ(ALL_EVERYTHING_SIZE, cellc_builder_finish(&b));
	ASSERT_EQ(0, all_everything_validate(buf, ALL_EVERYTHING_SIZE, NULL));
	all_everything_items(m, &n);
	ASSERT_EQ(0, n);
	ASSERT_EQ(0, m->text.off);
	/* A fixed-size message is just its struct. */
	ASSERT_EQ(0, all_scalars_validate(buf, ALL_SCALARS_SIZE, NULL));
}

TEST(round_trip_many_sizes)
{
	for (uint32_t items = 0; items < 24; items += 3) {
		for (uint32_t wide = 0; wide < 24; wide += 5) {
			struct cellc_builder b;
			uint32_t len = sample(items, wide), len2;

			ASSERT_NE(0, len);
			ASSERT_EQ(0, all_everything_validate(buf, len, NULL));
			cellc_builder_init(&b, buf2, CAP);
			len2 = copy_everything(&b, buf);
			ASSERT_EQ(len, len2);
			ASSERT_EQ(0, all_everything_validate(buf2, len2, NULL));
			ASSERT_EQ(hash_everything(buf), hash_everything(buf2));
		}
	}
}

TEST(large_vectors)
{
	uint32_t len = sample(1000, 3000);

	ASSERT_LT(40000, len);
	ASSERT_EQ(0, all_everything_validate(buf, len, NULL));
}

TEST(builder_runs_out_of_room)
{
	uint32_t full = sample(2, 2);

	for (uint32_t cap = 0; cap < full; cap++) {
		struct cellc_builder b;

		cellc_builder_init(&b, buf2, cap);
		ASSERT_EQ(0, sample_everything(&b, 2, 2));
		ASSERT_EQ(-EMSGSIZE, b.err);
	}
}

TEST(builder_refuses_bad_utf8_and_misuse)
{
	struct cellc_builder b;
	struct all_everything *m;
	struct all_named other;

	cellc_builder_init(&b, buf, CAP);
	m = all_everything_start(&b);
	ASSERT_EQ(-EILSEQ, all_everything_set_text(&b, m, "\xc0\x80", 2));
	ASSERT_EQ(0, cellc_builder_finish(&b));
	ASSERT_EQ(-EILSEQ, all_everything_set_blob(&b, m, "x", 1)); /* the error sticks */

	cellc_builder_init(&b, buf + 4, CAP - 4);
	ASSERT_EQ(-EINVAL, b.err);
	ASSERT_EQ(NULL, all_everything_start(&b));

	cellc_builder_init(&b, buf, CAP);
	ASSERT_NE(NULL, all_everything_start(&b));
	ASSERT_EQ(NULL, all_everything_start(&b));
	ASSERT_EQ(-EINVAL, b.err);

	/* A struct outside the builder's message. */
	memset(&other, 0, sizeof(other));
	cellc_builder_init(&b, buf, CAP);
	ASSERT_NE(NULL, all_everything_start(&b));
	ASSERT_EQ(-EINVAL, all_named_set_name_str(&b, &other, "x"));
}

TEST(refuses_short_message)
{
	uint32_t len = sample(1, 1);

	ASSERT_LT(ALL_EVERYTHING_SIZE, len);
	for (uint32_t n = 0; n < ALL_EVERYTHING_SIZE; n++)
		ASSERT_TRUE(refused(n, "shorter than its fixed part"));
	ASSERT_EQ(-EBADMSG, all_everything_validate(NULL, 200, NULL));
}

TEST(refuses_every_truncation_of_the_tail)
{
	uint32_t len = sample(2, 2);

	/* The last span ends at the end of the message. */
	for (uint32_t n = ALL_EVERYTHING_SIZE; n < len; n++)
		ASSERT_TRUE(refused(n, "out of bounds"));
	ASSERT_EQ(0, all_everything_validate(buf, len, NULL));
}

TEST(refuses_misaligned_buffer)
{
	uint32_t len = sample(1, 1);

	memmove(buf + 4, buf, len);
	ASSERT_EQ(-EBADMSG, all_everything_validate(buf + 4, len, NULL));
	memmove(buf + 1, buf + 4, len);
	ASSERT_EQ(-EBADMSG, all_everything_validate(buf + 1, len, NULL));
}

TEST(refuses_offset_out_of_range)
{
	uint32_t len = sample(1, 1);

	msg()->text.off = len;
	ASSERT_TRUE(refused(len, "all_everything.text: offset or length out of bounds"));
	msg()->text.off = UINT32_MAX;
	ASSERT_TRUE(refused(len, "all_everything.text: offset or length out of bounds"));
	/* Pointing back into the fixed part. */
	msg()->text.off = 8;
	ASSERT_TRUE(refused(len, "all_everything.text: offset or length out of bounds"));
}

TEST(refuses_length_overflow)
{
	uint32_t len = sample(1, 4);

	/* off + len wraps to a small value in 32 bits. */
	msg()->blob.len = UINT32_MAX - msg()->blob.off + 2;
	ASSERT_TRUE(refused(len, "all_everything.blob: offset or length out of bounds"));
	sample(1, 4);
	/* 2^29 elements of 8 bytes: 2^32 bytes, 0 in 32 bits. */
	msg()->wide.len = 1U << 29;
	ASSERT_TRUE(refused(len, "all_everything.wide: offset or length out of bounds"));
	sample(1, 4);
	msg()->items.len = UINT32_MAX;
	ASSERT_TRUE(refused(len, "all_everything.items: offset or length out of bounds"));
}

TEST(refuses_empty_span_with_offset)
{
	uint32_t len = sample(1, 1);

	msg()->blob.len = 0;
	ASSERT_TRUE(refused(len, "all_everything.blob: empty but with an offset"));
}

TEST(refuses_misaligned_vector)
{
	uint32_t len = sample(1, 4);

	msg()->wide.off += 4;
	msg()->wide.len -= 1;
	ASSERT_TRUE(refused(len, "all_everything.wide: misaligned offset"));
	len = sample(2, 1);
	msg()->items.off += 2;
	msg()->items.len -= 1;
	ASSERT_TRUE(refused(len, "all_everything.items: misaligned offset"));
}

TEST(refuses_overlapping_spans_beyond_the_message)
{
	uint32_t len = sample(1, 1);
	struct all_everything *m = msg();

	/* Both strings of pair[0] cover the whole tail: twice its size. */
	m->pair[0].name.off = ALL_EVERYTHING_SIZE;
	m->pair[0].name.len = len - ALL_EVERYTHING_SIZE;
	m->pair[0].data = m->pair[0].name;
	ASSERT_EQ(-EBADMSG, all_everything_validate(buf, len, NULL));
	ASSERT_TRUE(refused(len, "overlapping"));
}

TEST(refuses_bad_bools)
{
	uint32_t len = sample(3, 1);
	uint8_t *votes;

	msg()->s.t = 2;
	ASSERT_TRUE(refused(len, "all_scalars.t: bool is not 0 or 1"));
	sample(3, 1);
	msg()->flags[1] = 0x80;
	ASSERT_TRUE(refused(len, "all_everything.flags: bool"));
	sample(3, 1);
	msg()->pair[1].on = 3;
	ASSERT_TRUE(refused(len, "all_named.on: bool"));
	sample(3, 1);
	votes = buf + msg()->votes.off;
	votes[2] = 0xff;
	ASSERT_TRUE(refused(len, "all_everything.votes: bool"));
	sample(3, 1);
	((struct all_inner *)(buf + msg()->items.off))[2].who.on = 2;
	ASSERT_TRUE(refused(len, "all_named.on: bool"));
	sample(3, 1);
	((struct all_scalars *)(buf + msg()->plain.off))[1].t = 9;
	ASSERT_TRUE(refused(len, "all_scalars.t: bool"));
}

TEST(refuses_bad_utf8)
{
	static const char *const bad[] = {
		"\x80",		    /* continuation without a start */
		"\xc0\x80",	    /* overlong NUL */
		"\xe0\x80\xaf",	    /* overlong '/' */
		"\xed\xa0\x80",	    /* surrogate */
		"\xf4\x90\x80\x80", /* past U+10FFFF */
		"\xe2\x82",	    /* truncated */
		"ok\xff",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t len = sample(1, 1);
		struct all_everything *m = msg();
		size_t n = strlen(bad[i]);

		ASSERT_LE(n, m->text.len);
		memcpy(buf + m->text.off, bad[i], n);
		m->text.len = (uint32_t)n;
		ASSERT_TRUE(refused(len, "all_everything.text: not UTF-8"));
	}
	/* The longest valid sequences pass. */
	{
		uint32_t len = sample(1, 1);
		struct all_everything *m = msg();

		memcpy(buf + m->text.off, "\xf4\x8f\xbf\xbf\xef\xbf\xbf", 7);
		m->text.len = 7;
		ASSERT_EQ(0, all_everything_validate(buf, len, NULL));
	}
}

TEST(refuses_bad_span_nested_in_a_vector)
{
	uint32_t len = sample(3, 1);
	struct all_inner *items = (struct all_inner *)(buf + msg()->items.off);

	items[2].who.name.off = len - 1;
	items[2].who.name.len = 2;
	ASSERT_TRUE(refused(len, "all_named.name: offset or length out of bounds"));
}

TEST(every_single_byte_corruption_is_safe)
{
	uint32_t len = sample(2, 2);

	/* Accepted or refused, never a read outside the message (ASan). */
	for (uint32_t at = 0; at < len; at++) {
		static const uint8_t values[] = { 0, 1, 2, 0x7f, 0x80, 0xff };

		for (size_t v = 0; v < sizeof(values); v++) {
			sample(2, 2);
			buf[at] = values[v];
			if (all_everything_validate(buf, len, NULL) == 0)
				(void)hash_everything(buf);
		}
	}
}

TEST_HARNESS_MAIN
