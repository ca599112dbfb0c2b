// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The codec workload (shared/bench-workload.md) on libmnl, linked against Debian's shared
 * library, with the command line of the Rust `codec-bench` program:
 *
 *   mnl_codec encode N | encode-dump N | decode FILE WALKS
 *
 * Encode uses the bounds-checked putters (mnl_attr_put_*_check), as nlcore checks every
 * write. Decode is libmnl's usual pattern: mnl_cb_run() over the datagram, mnl_attr_parse()
 * with a callback that validates each type with mnl_attr_validate(), the same for the nest,
 * then the mnl_attr_get_*() getters.
 *
 * Prints "messages=... checksum=... ns_per_msg=...". C has no allocation counter of its own:
 * xtask counts this program's allocations with valgrind's heap summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_TYPE 0x20
#define MSG_LEN 200
#define BUF_LEN 256

enum {
	ATTR_UNSPEC,
	ATTR_IFINDEX,
	ATTR_MTU,
	ATTR_FLAGS,
	ATTR_RX_PACKETS,
	ATTR_TX_PACKETS,
	ATTR_RX_BYTES,
	ATTR_TX_BYTES,
	ATTR_TIMESTAMP,
	ATTR_NAME,
	ATTR_STATS,
	__ATTR_MAX
};
#define ATTR_MAX (__ATTR_MAX - 1)
#define STATS_MAX 4

static const char NAME[] = "enp0s31f6-uplink-telemetry-collector01";

/* Keeps the compiler from dropping or hoisting work on memory it cannot see used. */
#define ESCAPE(p) __asm__ volatile("" : "+r"(p) : : "memory")

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Builds message i at the start of buf; returns its length, 0 if it did not fit. */
static size_t encode(uint64_t i, char *buf)
{
	uint32_t i32 = (uint32_t)i;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;
	struct nlattr *nest;
	int ok = 1;

	nlh->nlmsg_type = MSG_TYPE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = i32;
	nlh->nlmsg_pid = 0;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = 1;
	genl->version = 1;
	ok &= mnl_attr_put_u32_check(nlh, BUF_LEN, ATTR_IFINDEX, 1 + (i32 % 4096));
	ok &= mnl_attr_put_u32_check(nlh, BUF_LEN, ATTR_MTU, 1500 + (i32 & 7));
	ok &= mnl_attr_put_u32_check(nlh, BUF_LEN, ATTR_FLAGS, 0x1003 ^ (i32 << 4));
	ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, ATTR_RX_PACKETS, 3 * i + 1);
	ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, ATTR_TX_PACKETS, 5 * i + 2);
	ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, ATTR_RX_BYTES, 1500 * i + 3);
	ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, ATTR_TX_BYTES, 1400 * i + 4);
	ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, ATTR_TIMESTAMP,
				     1700000000000000000ull + 1000 * i);
	ok &= mnl_attr_put_strz_check(nlh, BUF_LEN, ATTR_NAME, NAME);
	nest = mnl_attr_nest_start_check(nlh, BUF_LEN, ATTR_STATS);
	if (!nest)
		return 0;
	for (uint16_t kind = 1; kind <= STATS_MAX; kind++)
		ok &= mnl_attr_put_u64_check(nlh, BUF_LEN, kind, i + 9 + kind);
	mnl_attr_nest_end(nlh, nest);
	return ok ? nlh->nlmsg_len : 0;
}

static const enum mnl_attr_data_type telemetry_policy[ATTR_MAX + 1] = {
	[ATTR_IFINDEX] = MNL_TYPE_U32,	   [ATTR_MTU] = MNL_TYPE_U32,
	[ATTR_FLAGS] = MNL_TYPE_U32,	   [ATTR_RX_PACKETS] = MNL_TYPE_U64,
	[ATTR_TX_PACKETS] = MNL_TYPE_U64,  [ATTR_RX_BYTES] = MNL_TYPE_U64,
	[ATTR_TX_BYTES] = MNL_TYPE_U64,	   [ATTR_TIMESTAMP] = MNL_TYPE_U64,
	[ATTR_NAME] = MNL_TYPE_NUL_STRING, [ATTR_STATS] = MNL_TYPE_NESTED,
};

struct table {
	const struct nlattr *tb[ATTR_MAX + 1];
};

struct stats_table {
	const struct nlattr *tb[STATS_MAX + 1];
};

static int stats_attr_cb(const struct nlattr *attr, void *data)
{
	struct stats_table *t = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, STATS_MAX) < 0 || type == 0)
		return MNL_CB_OK; /* unknown: skip */
	if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
		return MNL_CB_ERROR;
	t->tb[type] = attr;
	return MNL_CB_OK;
}

static int telemetry_attr_cb(const struct nlattr *attr, void *data)
{
	struct table *t = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, ATTR_MAX) < 0 || type == 0)
		return MNL_CB_OK; /* unknown: skip */
	if (mnl_attr_validate(attr, telemetry_policy[type]) < 0)
		return MNL_CB_ERROR;
	t->tb[type] = attr;
	return MNL_CB_OK;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	uint64_t *sum = data;
	struct table t = { 0 };
	struct stats_table s = { 0 };
	uint64_t m = nlh->nlmsg_seq;
	const char *name;

	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), telemetry_attr_cb, &t) < 0)
		return MNL_CB_ERROR;
	for (int type = ATTR_IFINDEX; type <= ATTR_STATS; type++)
		if (!t.tb[type])
			return MNL_CB_ERROR;
	if (mnl_attr_parse_nested(t.tb[ATTR_STATS], stats_attr_cb, &s) < 0)
		return MNL_CB_ERROR;
	for (int type = 1; type <= STATS_MAX; type++) {
		if (!s.tb[type])
			return MNL_CB_ERROR;
		m += mnl_attr_get_u64(s.tb[type]);
	}
	m += mnl_attr_get_u32(t.tb[ATTR_IFINDEX]);
	m += mnl_attr_get_u32(t.tb[ATTR_MTU]);
	m += mnl_attr_get_u32(t.tb[ATTR_FLAGS]);
	for (int type = ATTR_RX_PACKETS; type <= ATTR_TIMESTAMP; type++)
		m += mnl_attr_get_u64(t.tb[type]);
	name = mnl_attr_get_str(t.tb[ATTR_NAME]);
	/* The validated NUL is the last byte: the text is the payload without it. */
	m += mnl_attr_get_payload_len(t.tb[ATTR_NAME]) - 1;
	m += (unsigned char)name[0];
	*sum += m;
	return MNL_CB_OK;
}

static int usage(void)
{
	fprintf(stderr, "usage: mnl_codec (encode N | encode-dump N | decode FILE WALKS)\n");
	return 2;
}

static int parse_count(const char *arg, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	return errno == 0 && *end == '\0' && end != arg;
}

static int run_encode(uint64_t count, FILE *dump)
{
	static char buf[BUF_LEN];
	uint64_t total = 0, start, ns;

	start = now_ns();
	for (uint64_t i = 0; i < count; i++) {
		char *p = buf;
		size_t len = encode(i, p);

		ESCAPE(p);
		if (len == 0) {
			fprintf(stderr, "mnl_codec: message %" PRIu64 " did not fit\n", i);
			return 1;
		}
		if (dump && fwrite(buf, 1, len, dump) != len)
			return 1;
		total += len;
	}
	ns = now_ns() - start;
	if (!dump)
		printf("messages=%" PRIu64 " checksum=%" PRIu64 " ns_per_msg=%.2f\n",
		       count, total, count ? (double)ns / (double)count : 0.0);
	return 0;
}

static int run_decode(const char *path, uint64_t walks)
{
	static char batch[1 << 16];
	uint64_t sum = 0, start, ns;
	size_t len;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return 1;
	}
	len = fread(batch, 1, sizeof(batch), f);
	fclose(f);
	start = now_ns();
	for (uint64_t w = 0; w < walks; w++) {
		char *p = batch;

		ESCAPE(p); /* the same bytes every walk: keep the walk in the loop */
		if (mnl_cb_run(p, len, 0, 0, data_cb, &sum) < 0) {
			fprintf(stderr, "mnl_codec: decode failed in walk %" PRIu64 "\n", w);
			return 1;
		}
	}
	ns = now_ns() - start;
	walks *= len / MSG_LEN;
	printf("messages=%" PRIu64 " checksum=%" PRIu64 " ns_per_msg=%.2f\n",
	       walks, sum, walks ? (double)ns / (double)walks : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n;

	if (argc == 3 && !strcmp(argv[1], "encode") && parse_count(argv[2], &n))
		return run_encode(n, NULL);
	if (argc == 3 && !strcmp(argv[1], "encode-dump") && parse_count(argv[2], &n))
		return run_encode(n, stdout);
	if (argc == 4 && !strcmp(argv[1], "decode") && parse_count(argv[3], &n))
		return run_decode(argv[2], n);
	return usage();
}
