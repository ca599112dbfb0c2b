/* The C reference agent for `cargo xtask bench agent`: what a minimal telemetry listener
 * costs with static musl and plain system calls. It joins group 1 of a netlink unit, counts
 * the samples it receives (checking their sequence numbers, as nltelem does), prints
 * "ready" once joined and its counts on SIGTERM.
 *
 *   ref-agent UNIT
 *
 * Built by the benchmark with `musl-gcc -static -Os -s`. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* musl ships no kernel headers: the few netlink definitions, as in <linux/netlink.h>. */
struct sockaddr_nl {
	unsigned short nl_family;
	unsigned short nl_pad;
	uint32_t nl_pid;
	uint32_t nl_groups;
};
struct nlmsghdr {
	uint32_t nlmsg_len;
	uint16_t nlmsg_type;
	uint16_t nlmsg_flags;
	uint32_t nlmsg_seq;
	uint32_t nlmsg_pid;
};
struct nlattr {
	uint16_t nla_len;
	uint16_t nla_type;
};
#define NLMSG_ALIGN(len) (((len) + 3U) & ~3U)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLMSG_DATA(h) ((void *)((char *)(h) + NLMSG_HDRLEN))
#define NLMSG_OK(h, len) ((len) >= (int)sizeof(struct nlmsghdr) && \
	(h)->nlmsg_len >= sizeof(struct nlmsghdr) && (h)->nlmsg_len <= (unsigned int)(len))
#define NLMSG_NEXT(h, len) ((len) -= NLMSG_ALIGN((h)->nlmsg_len), \
	(struct nlmsghdr *)((char *)(h) + NLMSG_ALIGN((h)->nlmsg_len)))
#define NLA_ALIGN(len) NLMSG_ALIGN(len)
#define NLA_HDRLEN ((int)NLA_ALIGN(sizeof(struct nlattr)))
#define NLA_TYPE_MASK 0x3fff

#define SAMPLE_TYPE (16 + 1) /* NLMSG_MIN_TYPE + SAMPLE */
#define ATTR_SEQ 1

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The u64 SEQ attribute of a sample, or 0 when absent. */
static uint64_t sample_seq(const struct nlmsghdr *h)
{
	const char *p = (const char *)NLMSG_DATA(h);
	const char *end = (const char *)h + h->nlmsg_len;

	while (p + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)p;
		uint64_t v;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == ATTR_SEQ &&
		    a->nla_len == NLA_HDRLEN + 8) {
			memcpy(&v, p + NLA_HDRLEN, 8);
			return v;
		}
		p += NLA_ALIGN(a->nla_len);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct sigaction sa = { .sa_handler = on_term };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	static char buf[16384];
	uint64_t received = 0, lost = 0, next = 0;
	int fd;

	if (argc != 2)
		return 64;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, atoi(argv[1]));
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("ref-agent: socket/bind");
		return 69;
	}
	/* A bounded wait per receive, so SIGTERM is seen even when nothing arrives. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		int n = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n <= 0)
			continue;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			uint64_t seq;

			if (h->nlmsg_type != SAMPLE_TYPE)
				continue;
			seq = sample_seq(h);
			received++;
			if (next && seq > next)
				lost += seq - next;
			next = seq + 1;
		}
	}
	printf("counters received %llu lost %llu\n", (unsigned long long)received,
	       (unsigned long long)lost);
	return 0;
}
