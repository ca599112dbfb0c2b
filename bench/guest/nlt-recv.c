/* The C receiver of `cargo xtask bench guest`: what a telemetry listener costs with plain
 * system calls. It joins the module's telemetry group on the classic unit, counts the samples
 * it receives (walking and bounds-checking every attribute, nests included, and folding every
 * value into a checksum: the work of reading a sample, not just its sequence number), the
 * ones lost (sequence gaps) and the receive-queue overruns (ENOBUFS), until
 * SIGTERM (or SECONDS at most), then prints its counts and its own CPU time. The receive
 * queue is sized as nltelem sizes it: SO_RCVBUFFORCE, else SO_RCVBUF.
 *
 *   nlt-recv UNIT RCVBUF_BYTES SECONDS      (RCVBUF_BYTES 0: the kernel's default)
 *
 * Output: `received N lost N overruns N malformed N checksum N cpu_us N`.
 * Built with `musl-gcc -static -O2`. */
#include "nlt.h"

#include <signal.h>
#include <sys/resource.h>

#define SO_RCVBUFFORCE 33

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t checksum;
/* The sample's u64 SEQ attribute, set by walk() (0 when absent). */
static uint64_t seq;

/* Folds every attribute in [p, end) into the checksum: 8-byte values as u64, 4-byte ones as
 * u32, others byte by byte; nests (the CPU times, each interface, each thermal zone) are
 * walked the same way one level down; the top-level SEQ is kept in `seq`. Returns -1 on a
 * length that does not fit. */
static int walk(const char *p, const char *end, int nested)
{
	while (p + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)p;
		int type = a->nla_type & NLA_TYPE_MASK, len = a->nla_len - NLA_HDRLEN, i;
		const char *v = p + NLA_HDRLEN;

		if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
			return -1;
		if (!nested && (type == NLTELEM_A_SAMPLE_CPU || type == NLTELEM_A_SAMPLE_NETDEV ||
				type == NLTELEM_A_SAMPLE_THERMAL)) {
			if (walk(v, v + len, 1))
				return -1;
		} else if (len == 8) {
			uint64_t x;

			memcpy(&x, v, 8);
			checksum += x;
			if (!nested && type == NLTELEM_A_SAMPLE_SEQ)
				seq = x;
		} else if (len == 4) {
			uint32_t x;

			memcpy(&x, v, 4);
			checksum += x;
		} else {
			for (i = 0; i < len; i++)
				checksum += (uint8_t)v[i];
		}
		p += NLMSG_ALIGN(a->nla_len);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	uint64_t received = 0, lost = 0, overruns = 0, malformed = 0, next = 0, end_ns;
	struct sigaction sa = { .sa_handler = on_term };
	struct rusage ru;
	int fd, rcvbuf;

	if (argc != 4) {
		fprintf(stderr, "usage: nlt-recv UNIT RCVBUF_BYTES SECONDS\n");
		return 64;
	}
	sigaction(SIGTERM, &sa, NULL);
	fd = nlt_socket(atoi(argv[1]), NLTELEM_CLASSIC_GROUP_TELEMETRY, 200);
	rcvbuf = atoi(argv[2]);
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) {
		perror("SO_RCVBUF");
		return 1;
	}
	end_ns = nlt_now_ns() + (uint64_t)atoi(argv[3]) * 1000000000ULL;
	while (!stop && nlt_now_ns() < end_ns) {
		int n = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == ENOBUFS)
				overruns++;
			continue;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLTELEM_CLASSIC_TYPE(NLTELEM_CMD_SAMPLE))
				continue;
			seq = 0;
			if (walk((const char *)h + NLMSG_HDRLEN, (const char *)h + h->nlmsg_len, 0)) {
				malformed++;
				continue;
			}
			received++;
			if (next && seq > next)
				lost += seq - next;
			next = seq + 1;
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("received %llu lost %llu overruns %llu malformed %llu checksum %llu cpu_us %llu\n",
	       (unsigned long long)received, (unsigned long long)lost,
	       (unsigned long long)overruns, (unsigned long long)malformed,
	       (unsigned long long)checksum,
	       (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ULL +
		       (unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
	return 0;
}
