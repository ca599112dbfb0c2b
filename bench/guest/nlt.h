/* Shared by the static C guest programs of `cargo xtask bench guest` and `cargo xtask test
 * reliability`: the few netlink definitions they need (musl ships no kernel headers) and
 * small helpers over plain system calls. The module's own numbers come from its generated
 * UAPI header, kmod/uapi/nltelem.h (built with -I kmod/uapi). */
#ifndef NLT_GUEST_H
#define NLT_GUEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "nltelem.h"

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
struct nlmsgerr {
	int error;
	struct nlmsghdr msg;
};
struct genlmsghdr {
	uint8_t cmd;
	uint8_t version;
	uint16_t reserved;
};
struct nlattr {
	uint16_t nla_len;
	uint16_t nla_type;
};

#define NETLINK_GENERIC 16
#define SOL_NETLINK 270
#define NETLINK_CAP_ACK 10
#define NETLINK_EXT_ACK 11
#define NLM_F_REQUEST 0x01
#define NLM_F_MULTI 0x02
#define NLM_F_ACK 0x04
#define NLM_F_DUMP 0x300
#define NLMSG_NOOP 1
#define NLMSG_ERROR 2
#define NLMSG_DONE 3
#define NLMSG_MIN_TYPE 16
#define GENL_ID_CTRL 16
#define CTRL_CMD_GETFAMILY 3
#define CTRL_ATTR_FAMILY_ID 1
#define CTRL_ATTR_FAMILY_NAME 2
#define NLMSGERR_ATTR_MSG 1
#define NLA_TYPE_MASK 0x3fff

#define NLMSG_ALIGN(len) (((len) + 3U) & ~3U)
#define NLMSG_HDRLEN ((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))
#define NLA_HDRLEN 4
#define NLMSG_OK(h, len) ((len) >= (int)sizeof(struct nlmsghdr) && \
	(h)->nlmsg_len >= sizeof(struct nlmsghdr) && (h)->nlmsg_len <= (unsigned int)(len))
#define NLMSG_NEXT(h, len) ((len) -= NLMSG_ALIGN((h)->nlmsg_len), \
	(struct nlmsghdr *)((char *)(h) + NLMSG_ALIGN((h)->nlmsg_len)))

static inline uint64_t nlt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A netlink socket of `unit` bound to `groups`, with a bounded receive wait. */
static inline int nlt_socket(int unit, uint32_t groups, int rcvtimeo_ms)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = groups };
	struct timeval tv = { .tv_sec = rcvtimeo_ms / 1000, .tv_usec = (rcvtimeo_ms % 1000) * 1000 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, unit);

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("netlink socket/bind");
		exit(69);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Appends one attribute to the message at `h` (whose buffer holds `cap` bytes). */
static inline void nlt_put(struct nlmsghdr *h, size_t cap, uint16_t type, const void *data,
			   uint16_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	if (NLMSG_ALIGN(h->nlmsg_len) + NLA_HDRLEN + len > cap)
		abort();
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_HDRLEN + len;
}

/* The generic netlink family id of nltelem, from the controller; 0 when absent. */
static inline uint16_t nlt_family_id(void)
{
	static char buf[8192];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct genlmsghdr *g;
	int fd = nlt_socket(NETLINK_GENERIC, 0, 1000);
	uint16_t id = 0;
	int n;

	memset(buf, 0, 64);
	h->nlmsg_len = NLMSG_HDRLEN + sizeof(*g);
	h->nlmsg_type = GENL_ID_CTRL;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = 1;
	g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	nlt_put(h, sizeof(buf), CTRL_ATTR_FAMILY_NAME, NLTELEM_FAMILY_NAME,
		sizeof(NLTELEM_FAMILY_NAME));
	if (send(fd, buf, h->nlmsg_len, 0) < 0)
		goto out;
	n = (int)recv(fd, buf, sizeof(buf), 0);
	if (n > 0 && NLMSG_OK(h, n) && h->nlmsg_type == GENL_ID_CTRL) {
		char *p = buf + NLMSG_HDRLEN + sizeof(*g), *end = buf + h->nlmsg_len;

		while (p + NLA_HDRLEN <= end) {
			struct nlattr *a = (struct nlattr *)p;

			if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
				break;
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
				memcpy(&id, p + NLA_HDRLEN, 2);
			p += NLMSG_ALIGN(a->nla_len);
		}
	}
out:
	close(fd);
	return id;
}

#endif
