/* Shared by the C references of `cargo xtask bench socket`: a monotonic clock in
 * nanoseconds and the median of per-iteration times, as the Rust side computes them. */
#ifndef BENCH_SOCKET_COMMON_H
#define BENCH_SOCKET_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline uint64_t median_ns(uint64_t *samples, size_t n)
{
	qsort(samples, n, sizeof(*samples), cmp_u64);
	return samples[n / 2];
}

/* The sample array for the iteration count in argv[1] (or `dflt`); exits on bad input. */
static inline uint64_t *alloc_samples(int argc, char *argv[], long dflt, long *iterations)
{
	uint64_t *samples;

	*iterations = argc > 1 ? atol(argv[1]) : dflt;
	if (*iterations < 1) {
		fprintf(stderr, "usage: %s ITERATIONS\n", argv[0]);
		exit(2);
	}
	samples = calloc(*iterations, sizeof(*samples));
	if (!samples) {
		perror("calloc");
		exit(1);
	}
	return samples;
}

#endif
