/* RTM_GETLINK dump round trip with Debian's libmnl, written as libmnl's own
 * examples/rtnl/rtnl-link-dump.c does it: a MNL_SOCKET_BUFFER_SIZE buffer,
 * mnl_cb_run() with sequence and port checks, mnl_attr_parse() with a validating
 * callback, and the interface index, name and MTU taken from each message.
 *
 * usage: dump_mnl ITERATIONS   prints: median_ns=N links=N
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "common.h"

struct dump_state {
	unsigned int links;
	unsigned long name_bytes;
	unsigned long long mtu_sum;
	int last_index;
};

static int data_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
		return MNL_CB_OK;

	switch (type) {
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *tb[IFLA_MAX + 1] = {};
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct dump_state *st = data;

	mnl_attr_parse(nlh, sizeof(*ifm), data_attr_cb, tb);
	if (tb[IFLA_IFNAME])
		st->name_bytes += strlen(mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		st->mtu_sum += mnl_attr_get_u32(tb[IFLA_MTU]);
	st->last_index = ifm->ifi_index;
	st->links++;
	return MNL_CB_OK;
}

int main(int argc, char *argv[])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int seq, portid;
	struct dump_state st = {};
	uint64_t *samples;
	long iterations;
	long i;

	samples = alloc_samples(argc, argv, 1000, &iterations);
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl) {
		perror("mnl_socket_open");
		return 1;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("mnl_socket_bind");
		return 1;
	}
	portid = mnl_socket_get_portid(nl);
	seq = (unsigned int)time(NULL);

	for (i = 0; i < iterations; i++) {
		uint64_t start = now_ns();
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct rtgenmsg *rt;
		int ret;

		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = ++seq;
		rt = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
		rt->rtgen_family = AF_PACKET;

		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			perror("mnl_socket_sendto");
			return 1;
		}
		st.links = 0;
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		while (ret > 0) {
			ret = mnl_cb_run(buf, ret, seq, portid, data_cb, &st);
			if (ret <= MNL_CB_STOP)
				break;
			ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		}
		if (ret == -1) {
			perror("dump");
			return 1;
		}
		samples[i] = now_ns() - start;
	}
	printf("median_ns=%llu links=%u\n",
	       (unsigned long long)median_ns(samples, iterations), st.links);
	mnl_socket_close(nl);
	free(samples);
	return 0;
}
