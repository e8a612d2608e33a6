// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Replay driver for libFuzzer targets in builds without libFuzzer.
 *
 *   fuzz_<name> CORPUS_DIR [ITERATIONS]
 *
 * Feeds every file of the seed corpus to LLVMFuzzerTestOneInput(), then
 * ITERATIONS (default 200000, or $CELL_FUZZ_ITERATIONS) mutations of them:
 * bit flips, byte stores, truncations, extensions and splices, from a fixed
 * seed so a failure reproduces.  A crash or sanitizer report fails the run;
 * each input is copied to a fresh heap buffer of its exact size so ASan
 * catches a read past its end.  Prints TAP.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT 65536

struct input {
	uint8_t *data;
	size_t size;
};

static struct input *corpus;
static size_t corpus_len;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, same sequence on every run. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void run_one(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy) {
		perror("malloc");
		exit(1);
	}
	memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

static int load_corpus(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct input *grown;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		grown = realloc(corpus, (corpus_len + 1) * sizeof(*corpus));
		if (!grown) {
			fclose(f);
			closedir(d);
			return -ENOMEM;
		}
		corpus = grown;
		corpus[corpus_len].data = malloc(REPLAY_MAX_INPUT);
		if (!corpus[corpus_len].data) {
			fclose(f);
			closedir(d);
			return -ENOMEM;
		}
		corpus[corpus_len].size = fread(corpus[corpus_len].data, 1, REPLAY_MAX_INPUT, f);
		fclose(f);
		corpus_len++;
	}
	closedir(d);
	return 0;
}

static size_t mutate(uint8_t *buf, size_t size)
{
	unsigned int rounds = 1 + rng() % 4;

	while (rounds--) {
		switch (rng() % 6) {
		case 0: /* flip a bit */
			if (size)
				buf[rng() % size] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1: /* store an interesting byte */
			if (size) {
				static const uint8_t interesting[] = { 0, 1, 0x7f, 0x80, 0xff };

				buf[rng() % size] = interesting[rng() % sizeof(interesting)];
			}
			break;
		case 2: /* store a random byte */
			if (size)
				buf[rng() % size] = (uint8_t)rng();
			break;
		case 3: /* truncate */
			if (size)
				size = rng() % size;
			break;
		case 4: /* extend with random bytes */ {
			size_t extra = 1 + rng() % 64;

			if (size + extra > REPLAY_MAX_INPUT)
				extra = REPLAY_MAX_INPUT - size;
			for (size_t i = 0; i < extra; i++)
				buf[size + i] = (uint8_t)rng();
			size += extra;
			break;
		}
		default: /* splice in part of another input */ {
			const struct input *other = &corpus[rng() % corpus_len];
			size_t at, len;

			if (!other->size)
				break;
			at = size ? rng() % size : 0;
			len = 1 + rng() % other->size;
			if (at + len > REPLAY_MAX_INPUT)
				len = REPLAY_MAX_INPUT - at;
			memcpy(buf + at, other->data + rng() % (other->size - len + 1), len);
			if (at + len > size)
				size = at + len;
			break;
		}
		}
	}
	return size;
}

int main(int argc, char **argv)
{
	unsigned long iterations = 200000;
	const char *env = getenv("CELL_FUZZ_ITERATIONS");
	static uint8_t buf[REPLAY_MAX_INPUT];
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS]\n", argv[0]);
		return 2;
	}
	if (env)
		iterations = strtoul(env, NULL, 0);
	if (argc > 2)
		iterations = strtoul(argv[2], NULL, 0);

	printf("TAP version 13\n1..2\n");
	err = load_corpus(argv[1]);
	if (err || corpus_len == 0) {
		printf("not ok 1 seed corpus %s: %s\n", argv[1], err ? strerror(-err) : "no files");
		printf("not ok 2 mutations # SKIP no corpus\n");
		return 1;
	}
	for (size_t i = 0; i < corpus_len; i++)
		run_one(corpus[i].data, corpus[i].size);
	printf("ok 1 seed corpus: %zu inputs\n", corpus_len);
	fflush(stdout);

	for (unsigned long i = 0; i < iterations; i++) {
		const struct input *seed = &corpus[rng() % corpus_len];
		size_t size;

		memcpy(buf, seed->data, seed->size);
		size = mutate(buf, seed->size);
		run_one(buf, size);
	}
	printf("ok 2 mutations: %lu inputs\n", iterations);
	for (size_t i = 0; i < corpus_len; i++)
		free(corpus[i].data);
	free(corpus);
	return 0;
}
