/* The C request client of `cargo xtask bench guest`: GET_SAMPLE round trips over the
 * module's classic unit with plain system calls, and a timer for whole commands.
 *
 *   nlt-client rtt UNIT COUNT     COUNT round trips in one process: `rtt_us_median M rtt_us_min M`
 *   nlt-client once UNIT          one GET_SAMPLE, as a command (exit 0 when answered)
 *   nlt-client time COUNT CMD...  runs CMD COUNT times (output discarded), prints the median
 *                                 wall time of one run: `cmd_us_median M cmd_us_min M failed N`
 *
 * Built with `musl-gcc -static -O2`. */
#include "nlt.h"

#include <fcntl.h>
#include <sys/wait.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One GET_SAMPLE request and its reply; 0 when a sample came back. */
static int get_sample(int fd, uint32_t seq)
{
	static char buf[65536];
	struct nlmsghdr req = {
		.nlmsg_len = sizeof(req),
		.nlmsg_type = NLTELEM_CLASSIC_TYPE(NLTELEM_CMD_GET_SAMPLE),
		.nlmsg_flags = NLM_F_REQUEST,
		.nlmsg_seq = seq,
	};
	/* A large reply may come in parts (NLM_F_MULTI ... DONE): bounded by the socket's
	 * receive timeout and a part count. */
	int parts;

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -1;
	for (parts = 0; parts < 1024; parts++) {
		int n = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n <= 0)
			return -1;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (h->nlmsg_type == NLMSG_DONE || !(h->nlmsg_flags & NLM_F_MULTI))
				return 0;
		}
	}
	return -1;
}

static void print_median(const char *name, uint64_t *ns, int count)
{
	qsort(ns, (size_t)count, sizeof(*ns), cmp_u64);
	printf("%s_median %.1f %s_min %.1f", name, (double)ns[count / 2] / 1000.0, name,
	       (double)ns[0] / 1000.0);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "rtt")) {
		int fd = nlt_socket(atoi(argv[2]), 0, 2000), count = atoi(argv[3]), i;
		uint64_t *ns = calloc((size_t)count, sizeof(*ns));

		if (!ns || count < 1)
			return 64;
		for (i = 0; i < count; i++) {
			uint64_t t0 = nlt_now_ns();

			if (get_sample(fd, (uint32_t)i + 1)) {
				fprintf(stderr, "nlt-client: GET_SAMPLE %d not answered\n", i);
				return 1;
			}
			ns[i] = nlt_now_ns() - t0;
		}
		print_median("rtt_us", ns, count);
		printf("\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "once"))
		return get_sample(nlt_socket(atoi(argv[2]), 0, 2000), 1) ? 1 : 0;
	if (argc >= 4 && !strcmp(argv[1], "time")) {
		int count = atoi(argv[2]), failed = 0, i;
		uint64_t *ns = calloc((size_t)(count > 0 ? count : 1), sizeof(*ns));

		if (!ns || count < 1)
			return 64;
		for (i = 0; i < count; i++) {
			uint64_t t0 = nlt_now_ns();
			int status = 0;
			pid_t pid = fork();

			if (pid == 0) {
				int null = open("/dev/null", O_WRONLY);

				dup2(null, 1);
				dup2(null, 2);
				execvp(argv[3], argv + 3);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
			    WEXITSTATUS(status))
				failed++;
			ns[i] = nlt_now_ns() - t0;
		}
		print_median("cmd_us", ns, count);
		printf(" failed %d\n", failed);
		return failed ? 1 : 0;
	}
	fprintf(stderr, "usage: nlt-client rtt UNIT COUNT | once UNIT | time COUNT CMD...\n");
	return 64;
}
