/* The hostile client of `cargo xtask test reliability`: COUNT malformed or random requests,
 * alternating between the module's generic netlink family and its classic unit, from a
 * seeded generator (the same seed sends the same requests). Kinds, in turn:
 *   lying-len      nlmsg_len larger or smaller than what was sent, or below a header
 *   truncated      a well-formed request cut short mid-attribute
 *   bad-nest       attributes whose length overruns the message, or a zero length
 *   wrong-type     a config attribute of the wrong size (u8 where u32, u16 where u64)
 *   huge-value     out-of-range config values (period 0 or > 1 h, watchdog > 1 h, temp < 0)
 *   unknown-cmd    commands the module does not have (0, 9..255), attributes of unknown types
 *   random         random bytes after a plausible header
 *   incomplete     well-formed but refused by the module itself: SET_CONFIG without a
 *                  setting, HEARTBEAT without its required counters
 * Every request asks for an ACK. The kernel handles a netlink request in the sender's
 * send(), so any answer is queued when send() returns: the replies are drained without
 * waiting. Printed per transport: requests sent, refused by the socket layer, answered with
 * an error (and how many of those carried the module's "nltelem:" ext-ack message), answered
 * OK, not answered (the netlink core drops a message whose length does not fit silently).
 *
 *   nlt-hostile COUNT SEED
 *
 * Built with `musl-gcc -static -O2`. */
#include "nlt.h"

enum { XP_GENL, XP_CLASSIC, XP_COUNT };

struct tally {
	unsigned long sent, refused, errors, module_errors, ok, silent;
};

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: enough for varied malformed input, reproducible from the seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static const char *const kinds[] = { "lying-len", "truncated", "bad-nest", "wrong-type",
				     "huge-value", "unknown-cmd", "random", "incomplete" };
#define KINDS (int)(sizeof(kinds) / sizeof(kinds[0]))

/* Sets the command of the request in `buf`, on either transport. */
static void set_cmd(char *buf, int xp, uint8_t cmd)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;

	if (xp == XP_GENL)
		((struct genlmsghdr *)(buf + NLMSG_HDRLEN))->cmd = cmd;
	else
		h->nlmsg_type = NLTELEM_CLASSIC_TYPE(cmd);
	h->nlmsg_flags &= (uint16_t)~NLM_F_DUMP;
}

/* Builds request number `i` into `buf`; returns the bytes to send. */
static size_t build(char *buf, size_t cap, int xp, uint16_t family, uint32_t seq, int kind)
{
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	uint8_t cmd = NLTELEM_CMD_SET_CONFIG;
	size_t len, i;
	uint32_t v32;
	uint64_t v64;

	memset(buf, 0, cap);
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = seq;
	h->nlmsg_len = NLMSG_HDRLEN;
	if (kind == 5) {
		cmd = (rnd() & 1) ? 0 : (uint8_t)(NLTELEM_CMD_MAX + 1 + rnd() % (255 - NLTELEM_CMD_MAX));
		if (rnd() & 1)
			cmd = (uint8_t)(1 + rnd() % NLTELEM_CMD_MAX); /* known command ... */
	} else if (kind == 2 || kind == 6) {
		cmd = (uint8_t)(1 + rnd() % NLTELEM_CMD_MAX);
	}
	if (xp == XP_GENL) {
		struct genlmsghdr *g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);

		h->nlmsg_type = family;
		g->cmd = cmd;
		g->version = 1;
		h->nlmsg_len += sizeof(*g);
	} else {
		h->nlmsg_type = NLTELEM_CLASSIC_TYPE(cmd);
		if (kind == 5 && (rnd() & 1))
			h->nlmsg_type = (uint16_t)(NLTELEM_CLASSIC_TYPE(NLTELEM_CMD_MAX + 1) + rnd() % 1000);
	}
	if (cmd == NLTELEM_CMD_DUMP_NETDEV && (rnd() & 1))
		h->nlmsg_flags |= NLM_F_DUMP;
	switch (kind) {
	case 0: /* lying-len: a valid SET_CONFIG whose header lies about its length */
		v32 = 1000;
		nlt_put(h, cap, NLTELEM_A_CONFIG_PERIOD_MS, &v32, 4);
		len = h->nlmsg_len;
		switch (rnd() % 3) {
		case 0: h->nlmsg_len += 1 + rnd() % 4096; break;
		case 1: h->nlmsg_len = rnd() % NLMSG_HDRLEN; break;
		default: h->nlmsg_len -= 1 + rnd() % 6; break;
		}
		return len;
	case 1: /* truncated: the datagram ends mid-attribute; the header tells the truth */
		v64 = rnd();
		nlt_put(h, cap, NLTELEM_A_CONFIG_MEM_AVAILABLE_KIB_MIN, &v64, 8);
		len = h->nlmsg_len;
		return len - 1 - rnd() % 8;
	case 2: { /* bad-nest: attribute lengths that overrun, or are 0 / below a header */
		struct nlattr *a = (struct nlattr *)(buf + h->nlmsg_len);

		a->nla_type = (uint16_t)((rnd() % 8) | ((rnd() & 1) ? 0x8000 : 0));
		a->nla_len = (uint16_t)(rnd() % 3 == 0 ? rnd() % 4 : 8 + rnd() % 512);
		h->nlmsg_len += 8;
		return h->nlmsg_len;
	}
	case 3: { /* wrong-type: a u8 where a u32 is, a u16 where a u64 is, a nest flag set */
		uint8_t b = (uint8_t)rnd();
		uint16_t w = (uint16_t)rnd();

		switch (rnd() % 3) {
		case 0: nlt_put(h, cap, NLTELEM_A_CONFIG_PERIOD_MS, &b, 1); break;
		case 1: nlt_put(h, cap, NLTELEM_A_CONFIG_MEM_AVAILABLE_KIB_MIN, &w, 2); break;
		default:
			v32 = 1000;
			nlt_put(h, cap, NLTELEM_A_CONFIG_WATCHDOG_MS | 0x8000, &v32, 4);
		}
		return h->nlmsg_len;
	}
	case 4: /* huge-value: out of the policy's range */
		switch (rnd() % 3) {
		case 0:
			v32 = (rnd() & 1) ? 0 : 3600001 + rnd() % 1000000;
			nlt_put(h, cap, NLTELEM_A_CONFIG_PERIOD_MS, &v32, 4);
			break;
		case 1:
			v32 = 3600001 + rnd();
			nlt_put(h, cap, NLTELEM_A_CONFIG_WATCHDOG_MS, &v32, 4);
			break;
		default:
			v32 = (rnd() & 1) ? (uint32_t)-1 - rnd() % 1000 : 200001 + rnd() % 1000;
			nlt_put(h, cap, NLTELEM_A_CONFIG_TEMP_MDEGC_MAX, &v32, 4);
		}
		return h->nlmsg_len;
	case 5: /* unknown-cmd, or a known one with an attribute type it does not know */
		v32 = rnd();
		nlt_put(h, cap, (uint16_t)(NLTELEM_A_CONFIG_MAX + 1 + rnd() % 100), &v32, 4);
		return h->nlmsg_len;
	case 7: /* incomplete: SET_CONFIG with nothing to set, HEARTBEAT lacking counters */
		if (rnd() & 1) {
			set_cmd(buf, xp, NLTELEM_CMD_HEARTBEAT);
			v64 = rnd();
			nlt_put(h, cap, NLTELEM_A_HEARTBEAT_RECEIVED, &v64, 8);
		} else {
			set_cmd(buf, xp, NLTELEM_CMD_SET_CONFIG);
		}
		return h->nlmsg_len;
	default: /* random bytes after the header */
		len = rnd() % 256;
		for (i = 0; i < len; i++)
			buf[h->nlmsg_len + i] = (char)rnd();
		h->nlmsg_len += (uint32_t)len;
		return h->nlmsg_len;
	}
}

/* Reads every answer already queued for `seq`; counts it in `t`. */
static void drain(int fd, uint32_t seq, struct tally *t)
{
	static char buf[65536];
	int answered = 0, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		int n = (int)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (n < 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || answered)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR &&
			    h->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
				const struct nlmsgerr *e = (const struct nlmsgerr *)((char *)h + NLMSG_HDRLEN);

				answered = 1;
				if (e->error == 0) {
					t->ok++;
					continue;
				}
				t->errors++;
				/* ext-ack TLVs follow the echoed request header (capped by the kernel). */
				if (memmem(h, h->nlmsg_len, "nltelem:", 8))
					t->module_errors++;
			} else if (h->nlmsg_type != NLMSG_NOOP) {
				answered = 1;
				t->ok++;
			}
		}
	}
	if (!answered)
		t->silent++;
}

int main(int argc, char **argv)
{
	static const char *const names[XP_COUNT] = { "genl", "classic" };
	static char buf[8192];
	struct tally tally[XP_COUNT] = { 0 };
	int fds[XP_COUNT], one = 1, xp;
	unsigned long count, i, by_kind[KINDS] = { 0 };
	uint16_t family;

	if (argc != 3) {
		fprintf(stderr, "usage: nlt-hostile COUNT SEED\n");
		return 64;
	}
	count = strtoul(argv[1], NULL, 10);
	rng_state = strtoull(argv[2], NULL, 10) | 1;
	family = nlt_family_id();
	if (!family) {
		fprintf(stderr, "nlt-hostile: family %s not registered\n", NLTELEM_FAMILY_NAME);
		return 69;
	}
	fds[XP_GENL] = nlt_socket(NETLINK_GENERIC, 0, 1000);
	fds[XP_CLASSIC] = nlt_socket(NLTELEM_CLASSIC_DEFAULT_UNIT, 0, 1000);
	/* Error messages with the module's text, without the request echoed after the header
	 * (NETLINK_CAP_ACK), so random request bytes cannot be mistaken for that text. */
	for (xp = 0; xp < XP_COUNT; xp++) {
		setsockopt(fds[xp], SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
		setsockopt(fds[xp], SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	}
	for (i = 0; i < count; i++) {
		int kind = (int)(i / 2 % KINDS);
		uint32_t seq = (uint32_t)i + 1;
		size_t len;

		xp = (int)(i % 2);
		len = build(buf, sizeof(buf), xp, family, seq, kind);
		by_kind[kind]++;
		tally[xp].sent++;
		if (send(fds[xp], buf, len, 0) < 0) {
			/* The socket layer refused the datagram: it never reached the module. */
			tally[xp].refused++;
			continue;
		}
		drain(fds[xp], seq, &tally[xp]);
	}
	for (xp = 0; xp < XP_COUNT; xp++)
		printf("transport %s sent %lu refused %lu errors %lu module_errors %lu ok %lu silent %lu\n",
		       names[xp], tally[xp].sent, tally[xp].refused, tally[xp].errors,
		       tally[xp].module_errors,
		       tally[xp].ok, tally[xp].silent);
	printf("kinds");
	for (i = 0; i < KINDS; i++)
		printf(" %s %lu", kinds[i], by_kind[i]);
	printf("\n");
	return 0;
}
