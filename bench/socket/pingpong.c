/* NETLINK_USERSOCK unicast ping-pong between two threads with plain system calls:
 * one 200-byte netlink message goes to the other thread's port and comes back.
 * Each receive names the sender (recvfrom with a sockaddr_nl), as a careful reader does.
 *
 * usage: pingpong ITERATIONS   prints: median_ns=N
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "common.h"

#define MSG_LEN 200

static long iterations;
static int pong_fd;
static unsigned int ping_port;

static int open_bound(unsigned int *port)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	struct timeval tv = { .tv_sec = 5 };

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("socket setup");
		exit(1);
	}
	*port = sa.nl_pid;
	return fd;
}

static ssize_t recv_checked(int fd, char *buf, size_t cap, unsigned int want_port)
{
	struct sockaddr_nl from;
	socklen_t alen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &alen);

	if (n < 0 || from.nl_pid != want_port) {
		fprintf(stderr, "recvfrom: %s (port %u)\n", strerror(errno), from.nl_pid);
		exit(1);
	}
	return n;
}

static void *pong(void *arg)
{
	char buf[8192];
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	long i;

	(void)arg;
	to.nl_pid = ping_port;
	for (i = 0; i < iterations; i++) {
		ssize_t n = recv_checked(pong_fd, buf, sizeof(buf), ping_port);

		if (sendto(pong_fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) != n) {
			perror("pong sendto");
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char *argv[])
{
	char msg[MSG_LEN] = {}, buf[8192];
	struct nlmsghdr *nlh = (struct nlmsghdr *)msg;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	unsigned int pong_port;
	uint64_t *samples;
	pthread_t thread;
	int ping_fd;
	long i;

	samples = alloc_samples(argc, argv, 10000, &iterations);
	ping_fd = open_bound(&ping_port);
	pong_fd = open_bound(&pong_port);
	to.nl_pid = pong_port;
	nlh->nlmsg_len = MSG_LEN;
	nlh->nlmsg_type = NLMSG_MIN_TYPE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	if (pthread_create(&thread, NULL, pong, NULL))
		return 1;
	for (i = 0; i < iterations; i++) {
		uint64_t start = now_ns();

		nlh->nlmsg_seq = i;
		if (sendto(ping_fd, msg, MSG_LEN, 0, (struct sockaddr *)&to, sizeof(to)) != MSG_LEN) {
			perror("ping sendto");
			return 1;
		}
		if (recv_checked(ping_fd, buf, sizeof(buf), pong_port) != MSG_LEN)
			return 1;
		samples[i] = now_ns() - start;
	}
	pthread_join(thread, NULL);
	printf("median_ns=%llu\n", (unsigned long long)median_ns(samples, iterations));
	return 0;
}
