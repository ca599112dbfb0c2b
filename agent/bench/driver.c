/* The sample source for `cargo xtask bench agent`: multicasts COUNT sample messages in
 * the module's classic-unit layout (nlmsg_type 16 + SAMPLE, attributes after the header)
 * to group 1 of netlink unit UNIT (NETLINK_USERSOCK on the host), numbered 1..COUNT, in
 * bursts of BURST with a 1 ms pause between bursts so a listener can keep up.
 *
 *   driver UNIT COUNT BURST */
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char *put(char *p, uint16_t type, const void *v, uint16_t len)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + len, .nla_type = type };

	memcpy(p, &a, sizeof(a));
	memcpy(p + NLA_HDRLEN, v, len);
	memset(p + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	return p + NLA_HDRLEN + NLA_ALIGN(len);
}

static char *put_u64(char *p, uint16_t type, uint64_t v) { return put(p, type, &v, 8); }
static char *put_u32(char *p, uint16_t type, uint32_t v) { return put(p, type, &v, 4); }

int main(int argc, char **argv)
{
	struct sockaddr_nl self = { .nl_family = AF_NETLINK };
	struct sockaddr_nl group = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct timespec pause = { 0, 1000000 };
	static char msg[512];
	unsigned long count, burst, i;
	int fd;

	if (argc != 4)
		return 64;
	count = strtoul(argv[2], NULL, 10);
	burst = strtoul(argv[3], NULL, 10);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, atoi(argv[1]));
	if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0) {
		perror("driver: socket/bind");
		return 1;
	}
	for (i = 1; i <= count; i++) {
		struct nlmsghdr *h = (struct nlmsghdr *)msg;
		char *p = msg + NLMSG_HDRLEN;

		p = put_u64(p, 1, i);                      /* seq */
		p = put_u64(p, 2, i);                      /* snapshot-seq */
		p = put_u32(p, 3, 0);                      /* part */
		p = put(p, 4, NULL, 0);                    /* last-part */
		p = put_u64(p, 5, 1700000000000000000ull + i * 1000000ull); /* timestamp-ns */
		p = put_u64(p, 6, i * 1000000ull);         /* uptime-ns */
		p = put_u32(p, 7, 250);                    /* load1-milli */
		p = put_u32(p, 8, 200);
		p = put_u32(p, 9, 150);
		p = put_u64(p, 10, 262144);                /* mem-total-kib */
		p = put_u64(p, 11, 100000);
		p = put_u64(p, 12, 200000);
		memset(h, 0, sizeof(*h));
		h->nlmsg_len = p - msg;
		h->nlmsg_type = 16 + 1;
		/* ECONNREFUSED after the broadcast: no kernel socket on USERSOCK (not a failure). */
		sendto(fd, msg, h->nlmsg_len, 0, (struct sockaddr *)&group, sizeof(group));
		if (burst && i % burst == 0)
			nanosleep(&pause, NULL);
	}
	return 0;
}
