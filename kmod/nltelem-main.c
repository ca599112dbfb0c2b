// SPDX-License-Identifier: GPL-2.0
/*
 * nltelem: telemetry of a small Linux appliance over netlink.
 *
 * One protocol (spec/nltelem.yaml) on two transports: the generic netlink
 * family "nltelem" and a classic netlink unit (module parameter "unit").
 * A delayed work samples the system and broadcasts snapshots to the group
 * "telemetry" while somebody listens; events (link changes, thresholds,
 * watchdog, configuration changes) go to the group "events". Requests are
 * answered to the sender's port (NETLINK_CB(skb).portid), never to the
 * nlmsg_pid the sender wrote, and the input path never waits for the sampler.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/workqueue.h>
#include <linux/sched/loadavg.h>
#include <linux/mm.h>
#include <linux/kernel_stat.h>
#include <linux/tick.h>
#include <linux/thermal.h>
#include <linux/timekeeping.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/string.h>
#include <net/sock.h>
#include <net/netlink.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "nltelem-nl-gen.h"

static int unit = NLTELEM_CLASSIC_DEFAULT_UNIT;
module_param(unit, int, 0444);
MODULE_PARM_DESC(unit, "classic netlink unit to open (1..31); 0 disables it");

static char *thermal_zones = "x86_pkg_temp,acpitz,cpu-thermal,cpu_thermal,soc_thermal";
module_param(thermal_zones, charp, 0444);
MODULE_PARM_DESC(thermal_zones,
		 "comma-separated thermal zone types to read where present");

/* Sampling while nobody listens is skipped; the work then only polls this often. */
#define NLT_IDLE_POLL_MS	1000
#define NLT_DEFAULT_PERIOD_MS	1000
#define NLT_MAX_THERMAL		8
#define NLT_EVENT_SIZE		512

enum nlt_xport {
	NLT_XP_GENL,
	NLT_XP_CLASSIC,
	NLT_XP_COUNT,
};

#define NLT_GROUPS		2	/* NLTELEM_NLGRP_TELEMETRY, _EVENTS */

enum nlt_cpu_field {
	NLT_CPU_USER,
	NLT_CPU_NICE,
	NLT_CPU_SYSTEM,
	NLT_CPU_IDLE,
	NLT_CPU_IOWAIT,
	NLT_CPU_IRQ,
	NLT_CPU_SOFTIRQ,
	NLT_CPU_STEAL,
	NLT_CPU_FIELDS,
};

struct nlt_thermal {
	char type[THERMAL_NAME_LENGTH];
	int temp_mdegc;
};

struct nlt_config {
	u32 period_ms;
	u32 sources;
	u32 load1_milli_max;
	u64 mem_available_kib_min;
	s32 temp_mdegc_max;
	u32 watchdog_ms;
};

/* The scalar part of a snapshot; interfaces are read while the messages are filled. */
struct nlt_sample {
	u64 snapshot_seq;
	u64 timestamp_ns;
	u64 uptime_ns;
	u32 sources;
	u32 load_milli[3];
	u64 mem_total_kib;
	u64 mem_free_kib;
	u64 mem_available_kib;
	u64 cpu_ns[NLT_CPU_FIELDS];
	unsigned int n_thermal;
	struct nlt_thermal thermal[NLT_MAX_THERMAL];
};

/* A request on either transport, as the shared handlers see it. */
struct nltelem_req {
	enum nlt_xport xport;
	struct sk_buff *skb;
	struct nlattr **tb;
	struct netlink_ext_ack *extack;
	u32 portid;	/* NETLINK_CB(skb).portid: the real sender */
	u32 seq;
	u8 cmd;
};

struct nlt_event {
	u32 kind;
	const struct net_device *dev;
	u32 threshold;
	s64 value;
	s64 limit;
	u32 portid;
	u32 transport;
	u32 silence_ms;
};

/* errno values counted one by one in GET_STATS; 0 stands for any other. */
static const int nlt_counted_errnos[] = { ENOBUFS, ESRCH, ECONNREFUSED, EAGAIN, ENOMEM, 0 };

static struct {
	atomic64_t sent[NLT_GROUPS];
	atomic64_t bcast_fail[ARRAY_SIZE(nlt_counted_errnos)];
	atomic64_t alloc_fail;
	atomic64_t requests;
	atomic64_t rejects;
	atomic64_t unicast_fail;
	atomic64_t snapshots;
	atomic64_t heartbeats;
} nlt_stats;

/*
 * Configuration, heartbeat and thermal cache. A spinlock: it is taken by the
 * input path, which must not sleep, and held only to copy a few words.
 */
static DEFINE_SPINLOCK(nlt_lock);
static struct nlt_config nlt_cfg = {
	.period_ms = NLT_DEFAULT_PERIOD_MS,
	.sources = NLTELEM_SOURCE_LOAD | NLTELEM_SOURCE_MEMORY | NLTELEM_SOURCE_CPU |
		   NLTELEM_SOURCE_NETDEV | NLTELEM_SOURCE_THERMAL,
};

static bool nlt_stopping;		/* under nlt_lock: no more work queued */
static unsigned long nlt_heartbeat_at;	/* jiffies of the last heartbeat (or config) */
static bool nlt_heartbeat_seen;
static bool nlt_watchdog_fired;
/* The agent's counters from its last heartbeat, in the order of enum nlt_agent_counter. */
enum nlt_agent_counter {
	NLT_AGENT_RECEIVED,
	NLT_AGENT_LOST,
	NLT_AGENT_EXPORTED,
	NLT_AGENT_OVERRUNS,
	NLT_AGENT_EXPORT_ERRORS,
	NLT_AGENT_COUNTERS
};
static u64 nlt_agent[NLT_AGENT_COUNTERS];
static struct nlt_thermal nlt_thermal_cache[NLT_MAX_THERMAL];
static unsigned int nlt_thermal_cached;

/*
 * Per transport: the sequence number of each group, and the lock that keeps
 * numbering and sending in one order (so a gap always means a loss).
 */
static DEFINE_SPINLOCK(nlt_send_lock_genl);
static DEFINE_SPINLOCK(nlt_send_lock_classic);
static u64 nlt_mc_seq[NLT_XP_COUNT][NLT_GROUPS];

/* Only the sampler work touches these. */
static u64 nlt_snapshot_seq;
static u32 nlt_thresholds_beyond;	/* bit (threshold - 1): currently crossed */

static char nlt_zone_names[NLT_MAX_THERMAL][THERMAL_NAME_LENGTH];
static unsigned int nlt_n_zones;

static struct sock *nlt_classic_sk;
static struct genl_family nltelem_nl_family;

static void nlt_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(nlt_work, nlt_work_fn);

static spinlock_t *nlt_send_lock(enum nlt_xport xport)
{
	return xport == NLT_XP_GENL ? &nlt_send_lock_genl : &nlt_send_lock_classic;
}

static bool nlt_listening(enum nlt_xport xport, int group)
{
	if (xport == NLT_XP_GENL)
		return genl_has_listeners(&nltelem_nl_family, &init_net, group);
	/* Classic groups are numbered from 1: bit 0 of nl_groups is group 1. */
	return nlt_classic_sk && netlink_has_listeners(nlt_classic_sk, group + 1);
}

static void nlt_count_errno(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(nlt_counted_errnos) - 1; i++)
		if (nlt_counted_errnos[i] == -err)
			break;
	atomic64_inc(&nlt_stats.bcast_fail[i]);
}

/* Starts a message of either transport; returns its header or NULL when full. */
static struct nlmsghdr *nlt_msg_put(struct sk_buff *skb, enum nlt_xport xport,
				    u32 portid, u32 seq, u8 cmd, int flags)
{
	struct nlmsghdr *nlh;
	void *user_hdr;

	if (xport == NLT_XP_GENL) {
		user_hdr = genlmsg_put(skb, portid, seq, &nltelem_nl_family, flags, cmd);
		if (!user_hdr)
			return NULL;
		return (struct nlmsghdr *)((u8 *)user_hdr - GENL_HDRLEN - NLMSG_HDRLEN);
	}
	nlh = nlmsg_put(skb, portid, seq, NLTELEM_CLASSIC_TYPE(cmd), 0, flags);
	return nlh;
}

/* Sends to the requester's port without ever waiting for room in its buffer. */
static int nlt_unicast(enum nlt_xport xport, struct sk_buff *skb, u32 portid)
{
	int err;

	if (xport == NLT_XP_GENL)
		err = genlmsg_unicast(&init_net, skb, portid);
	else
		err = nlmsg_unicast(nlt_classic_sk, skb, portid);
	if (err)
		atomic64_inc(&nlt_stats.unicast_fail);
	return err;
}

/*
 * Numbers and broadcasts a finished message. The sequence attribute was
 * reserved when the message was built; it is written here, under the lock
 * that also orders the sends.
 */
static void nlt_multicast(enum nlt_xport xport, int group, struct sk_buff *skb,
			  struct nlattr *seq_attr)
{
	spinlock_t *lock = nlt_send_lock(xport);
	u64 seq;
	int err;

	spin_lock(lock);
	seq = ++nlt_mc_seq[xport][group];
	memcpy(nla_data(seq_attr), &seq, sizeof(seq));
	if (xport == NLT_XP_GENL)
		err = genlmsg_multicast(&nltelem_nl_family, skb, 0, group, GFP_ATOMIC);
	else
		err = nlmsg_multicast(nlt_classic_sk, skb, 0, group + 1, GFP_ATOMIC);
	spin_unlock(lock);
	if (err)
		nlt_count_errno(err);
	else
		atomic64_inc(&nlt_stats.sent[group]);
}

static int nlt_put_netdev(struct sk_buff *skb, struct net_device *dev)
{
	struct rtnl_link_stats64 st;

	dev_get_stats(dev, &st);
	if (nla_put_u32(skb, NLTELEM_A_NETDEV_IFINDEX, dev->ifindex) ||
	    nla_put_string(skb, NLTELEM_A_NETDEV_IFNAME, dev->name) ||
	    nla_put_u8(skb, NLTELEM_A_NETDEV_OPER_STATE, READ_ONCE(dev->operstate)) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_RX_BYTES, st.rx_bytes, NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_TX_BYTES, st.tx_bytes, NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_RX_PACKETS, st.rx_packets,
			      NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_TX_PACKETS, st.tx_packets,
			      NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_RX_ERRORS, st.rx_errors,
			      NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_TX_ERRORS, st.tx_errors,
			      NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_RX_DROPPED, st.rx_dropped,
			      NLTELEM_A_NETDEV_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_NETDEV_TX_DROPPED, st.tx_dropped,
			      NLTELEM_A_NETDEV_PAD))
		return -EMSGSIZE;
	return 0;
}

/*
 * Walks init_net's interfaces by index hash bucket and position, resuming at
 * *bucket / *pos, as rtnetlink's dumps do: linear in the number of
 * interfaces however many calls it takes. Returns true when all were put.
 */
static bool nlt_put_netdevs(struct sk_buff *skb, unsigned long *bucket, unsigned long *pos,
			    unsigned int *put)
{
	struct net_device *dev;
	struct nlattr *nest;
	unsigned long h, idx;

	rcu_read_lock();
	for (h = *bucket; h < NETDEV_HASHENTRIES; h++, *pos = 0) {
		idx = 0;
		hlist_for_each_entry_rcu(dev, &init_net.dev_index_head[h], index_hlist) {
			if (idx < *pos) {
				idx++;
				continue;
			}
			nest = nla_nest_start(skb, NLTELEM_A_SAMPLE_NETDEV);
			if (!nest || nlt_put_netdev(skb, dev)) {
				if (nest)
					nla_nest_cancel(skb, nest);
				*bucket = h;
				*pos = idx;
				rcu_read_unlock();
				return false;
			}
			nla_nest_end(skb, nest);
			idx++;
			(*put)++;
		}
	}
	rcu_read_unlock();
	*bucket = h;
	return true;
}

static void nlt_read_cpu(struct nlt_sample *s)
{
	struct kernel_cpustat kcs;
	u64 idle_us, iowait_us;
	int cpu;

	memset(s->cpu_ns, 0, sizeof(s->cpu_ns));
	for_each_possible_cpu(cpu) {
		kcpustat_cpu_fetch(&kcs, cpu);
		s->cpu_ns[NLT_CPU_USER] += kcs.cpustat[CPUTIME_USER];
		s->cpu_ns[NLT_CPU_NICE] += kcs.cpustat[CPUTIME_NICE];
		s->cpu_ns[NLT_CPU_SYSTEM] += kcs.cpustat[CPUTIME_SYSTEM];
		s->cpu_ns[NLT_CPU_IRQ] += kcs.cpustat[CPUTIME_IRQ];
		s->cpu_ns[NLT_CPU_SOFTIRQ] += kcs.cpustat[CPUTIME_SOFTIRQ];
		s->cpu_ns[NLT_CPU_STEAL] += kcs.cpustat[CPUTIME_STEAL];
		/* As /proc/stat: with NOHZ, idle time lives in the tick code. */
		idle_us = cpu_online(cpu) ? get_cpu_idle_time_us(cpu, NULL) : -1ULL;
		iowait_us = cpu_online(cpu) ? get_cpu_iowait_time_us(cpu, NULL) : -1ULL;
		s->cpu_ns[NLT_CPU_IDLE] += idle_us == -1ULL ? kcs.cpustat[CPUTIME_IDLE] :
				idle_us * NSEC_PER_USEC;
		s->cpu_ns[NLT_CPU_IOWAIT] += iowait_us == -1ULL ? kcs.cpustat[CPUTIME_IOWAIT] :
				iowait_us * NSEC_PER_USEC;
	}
}

/* Reads the configured zones; may sleep (drivers read sensors): work only. */
static void nlt_read_thermal(struct nlt_sample *s)
{
	struct thermal_zone_device *tz;
	unsigned int i;
	int temp;

	s->n_thermal = 0;
	for (i = 0; i < nlt_n_zones; i++) {
		tz = thermal_zone_get_zone_by_name(nlt_zone_names[i]);
		if (IS_ERR(tz) || thermal_zone_get_temp(tz, &temp))
			continue;
		strscpy(s->thermal[s->n_thermal].type, nlt_zone_names[i], THERMAL_NAME_LENGTH);
		s->thermal[s->n_thermal].temp_mdegc = temp;
		s->n_thermal++;
	}
	spin_lock(&nlt_lock);
	memcpy(nlt_thermal_cache, s->thermal, sizeof(nlt_thermal_cache));
	nlt_thermal_cached = s->n_thermal;
	spin_unlock(&nlt_lock);
}

/* Everything but thermal zones; nothing here sleeps. */
static void nlt_collect(struct nlt_sample *s, u32 sources)
{
	struct sysinfo si;
	int i;

	s->sources = sources;
	s->timestamp_ns = ktime_get_real_ns();
	s->uptime_ns = ktime_get_boottime_ns();
	for (i = 0; i < 3; i++)
		s->load_milli[i] = ((u64)avenrun[i] * 1000 + FIXED_1 / 2) >> FSHIFT;
	si_meminfo(&si);
	s->mem_total_kib = ((u64)si.totalram * si.mem_unit) >> 10;
	s->mem_free_kib = ((u64)si.freeram * si.mem_unit) >> 10;
	s->mem_available_kib = (u64)si_mem_available() << (PAGE_SHIFT - 10);
	nlt_read_cpu(s);
}

static int nlt_put_scalars(struct sk_buff *skb, const struct nlt_sample *s)
{
	struct nlattr *nest;
	unsigned int i;

	if (nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_TIMESTAMP_NS, s->timestamp_ns,
			      NLTELEM_A_SAMPLE_PAD) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_UPTIME_NS, s->uptime_ns,
			      NLTELEM_A_SAMPLE_PAD))
		return -EMSGSIZE;
	if ((s->sources & NLTELEM_SOURCE_LOAD) &&
	    (nla_put_u32(skb, NLTELEM_A_SAMPLE_LOAD1_MILLI, s->load_milli[0]) ||
	     nla_put_u32(skb, NLTELEM_A_SAMPLE_LOAD5_MILLI, s->load_milli[1]) ||
	     nla_put_u32(skb, NLTELEM_A_SAMPLE_LOAD15_MILLI, s->load_milli[2])))
		return -EMSGSIZE;
	if ((s->sources & NLTELEM_SOURCE_MEMORY) &&
	    (nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_MEM_TOTAL_KIB, s->mem_total_kib,
			       NLTELEM_A_SAMPLE_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_MEM_FREE_KIB, s->mem_free_kib,
			       NLTELEM_A_SAMPLE_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_MEM_AVAILABLE_KIB, s->mem_available_kib,
			       NLTELEM_A_SAMPLE_PAD)))
		return -EMSGSIZE;
	if (s->sources & NLTELEM_SOURCE_CPU) {
		nest = nla_nest_start(skb, NLTELEM_A_SAMPLE_CPU);
		if (!nest)
			return -EMSGSIZE;
		/* NLTELEM_A_CPU_TIMES_* follow enum nlt_cpu_field, from 1. */
		BUILD_BUG_ON(NLT_CPU_STEAL + 1 != NLTELEM_A_CPU_TIMES_STEAL_NS);
		for (i = 0; i < NLT_CPU_FIELDS; i++)
			if (nla_put_u64_64bit(skb, i + 1, s->cpu_ns[i], NLTELEM_A_CPU_TIMES_PAD))
				return -EMSGSIZE;
		nla_nest_end(skb, nest);
	}
	if (!(s->sources & NLTELEM_SOURCE_THERMAL))
		return 0;
	for (i = 0; i < s->n_thermal; i++) {
		nest = nla_nest_start(skb, NLTELEM_A_SAMPLE_THERMAL);
		if (!nest ||
		    nla_put_string(skb, NLTELEM_A_THERMAL_ZONE_TYPE, s->thermal[i].type) ||
		    nla_put_s32(skb, NLTELEM_A_THERMAL_ZONE_TEMP_MDEGC, s->thermal[i].temp_mdegc))
			return -EMSGSIZE;
		nla_nest_end(skb, nest);
	}
	return 0;
}

/*
 * Sends one snapshot in as many messages as its interfaces need, each within
 * NLMSG_GOODSIZE: all carry the snapshot's sequence number and their part
 * index, the final one the last-part flag. To a group (broadcast, numbered
 * per group) or, when @req is given, to the requester only.
 */
static int nlt_send_snapshot(const struct nlt_sample *s, enum nlt_xport xport,
			     const struct nltelem_req *req)
{
	unsigned long bucket = 0, pos = 0;
	struct nlattr *seq_attr = NULL;
	bool all_put = false, last = false;
	struct nlmsghdr *nlh;
	struct sk_buff *skb;
	unsigned int part, put;
	u8 cmd = req ? req->cmd : NLTELEM_CMD_SAMPLE;
	int err;

	for (part = 0; !last; part++) {
		skb = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
		if (!skb) {
			atomic64_inc(&nlt_stats.alloc_fail);
			return -ENOMEM;
		}
		nlh = nlt_msg_put(skb, xport, req ? req->portid : 0, req ? req->seq : 0, cmd, 0);
		if (!nlh)
			goto too_big;
		if (!req) {
			seq_attr = nla_reserve_64bit(skb, NLTELEM_A_SAMPLE_SEQ, sizeof(u64),
						     NLTELEM_A_SAMPLE_PAD);
			if (!seq_attr)
				goto too_big;
		}
		if (nla_put_u64_64bit(skb, NLTELEM_A_SAMPLE_SNAPSHOT_SEQ, s->snapshot_seq,
				      NLTELEM_A_SAMPLE_PAD) ||
		    nla_put_u32(skb, NLTELEM_A_SAMPLE_PART, part))
			goto too_big;
		if (part == 0 && nlt_put_scalars(skb, s))
			goto too_big;
		put = 0;
		if (!all_put && (s->sources & NLTELEM_SOURCE_NETDEV)) {
			all_put = nlt_put_netdevs(skb, &bucket, &pos, &put);
			/* Not even one interface fitted an empty part: it never will. */
			if (!all_put && put == 0 && part > 0)
				goto too_big;
		} else {
			all_put = true;
		}
		/* The flag may not fit a full part: then one more part carries it. */
		last = all_put && !nla_put_flag(skb, NLTELEM_A_SAMPLE_LAST_PART);
		nlmsg_end(skb, nlh);
		if (req) {
			err = nlt_unicast(xport, skb, req->portid);
			if (err)
				return err;
		} else {
			nlt_multicast(xport, NLTELEM_NLGRP_TELEMETRY, skb, seq_attr);
		}
	}
	return 0;

too_big:
	WARN_ONCE(1, "nltelem: snapshot part %u does not fit a message\n", part);
	nlmsg_free(skb);
	return -EMSGSIZE;
}

static int nlt_fill_event(struct sk_buff *skb, const struct nlt_event *ev)
{
	if (nla_put_u64_64bit(skb, NLTELEM_A_EVENT_TIMESTAMP_NS, ktime_get_real_ns(),
			      NLTELEM_A_EVENT_PAD) ||
	    nla_put_u32(skb, NLTELEM_A_EVENT_KIND, ev->kind))
		return -EMSGSIZE;
	switch (ev->kind) {
	case NLTELEM_EVENT_KIND_LINK_UP:
	case NLTELEM_EVENT_KIND_LINK_DOWN:
		if (nla_put_u32(skb, NLTELEM_A_EVENT_IFINDEX, ev->dev->ifindex) ||
		    nla_put_string(skb, NLTELEM_A_EVENT_IFNAME, ev->dev->name))
			return -EMSGSIZE;
		break;
	case NLTELEM_EVENT_KIND_THRESHOLD:
		if (nla_put_u32(skb, NLTELEM_A_EVENT_THRESHOLD, ev->threshold) ||
		    nla_put_s64(skb, NLTELEM_A_EVENT_VALUE, ev->value, NLTELEM_A_EVENT_PAD) ||
		    nla_put_s64(skb, NLTELEM_A_EVENT_LIMIT, ev->limit, NLTELEM_A_EVENT_PAD))
			return -EMSGSIZE;
		break;
	case NLTELEM_EVENT_KIND_WATCHDOG:
		if (nla_put_u32(skb, NLTELEM_A_EVENT_SILENCE_MS, ev->silence_ms))
			return -EMSGSIZE;
		break;
	case NLTELEM_EVENT_KIND_CONFIG_CHANGED:
		if (nla_put_u32(skb, NLTELEM_A_EVENT_PORTID, ev->portid) ||
		    nla_put_u32(skb, NLTELEM_A_EVENT_TRANSPORT, ev->transport))
			return -EMSGSIZE;
		break;
	}
	return 0;
}

/* Broadcasts an event on every transport that has a listener for it. */
static void nlt_send_event(const struct nlt_event *ev)
{
	struct nlattr *seq_attr;
	struct nlmsghdr *nlh;
	struct sk_buff *skb;
	enum nlt_xport xport;

	for (xport = 0; xport < NLT_XP_COUNT; xport++) {
		if (!nlt_listening(xport, NLTELEM_NLGRP_EVENTS))
			continue;
		skb = nlmsg_new(NLT_EVENT_SIZE, GFP_KERNEL);
		if (!skb) {
			atomic64_inc(&nlt_stats.alloc_fail);
			continue;
		}
		nlh = nlt_msg_put(skb, xport, 0, 0, NLTELEM_CMD_EVENT, 0);
		seq_attr = nlh ? nla_reserve_64bit(skb, NLTELEM_A_EVENT_SEQ, sizeof(u64),
						   NLTELEM_A_EVENT_PAD) : NULL;
		if (!seq_attr || nlt_fill_event(skb, ev)) {
			WARN_ONCE(1, "nltelem: event does not fit %d bytes\n", NLT_EVENT_SIZE);
			nlmsg_free(skb);
			continue;
		}
		nlmsg_end(skb, nlh);
		nlt_multicast(xport, NLTELEM_NLGRP_EVENTS, skb, seq_attr);
	}
}

/* Edge-triggered: one event when a value goes beyond its limit, none while it stays. */
static void nlt_check_threshold(u32 threshold, bool beyond, s64 value, s64 limit)
{
	u32 bit = BIT(threshold - 1);
	struct nlt_event ev = {
		.kind = NLTELEM_EVENT_KIND_THRESHOLD,
		.threshold = threshold,
		.value = value,
		.limit = limit,
	};

	if (!beyond) {
		nlt_thresholds_beyond &= ~bit;
		return;
	}
	if (nlt_thresholds_beyond & bit)
		return;
	nlt_thresholds_beyond |= bit;
	nlt_send_event(&ev);
}

static void nlt_check_thresholds(const struct nlt_sample *s, const struct nlt_config *cfg)
{
	unsigned int i;
	int hottest = INT_MIN;

	nlt_check_threshold(NLTELEM_THRESHOLD_LOAD1,
			    cfg->load1_milli_max && s->load_milli[0] > cfg->load1_milli_max,
			    s->load_milli[0], cfg->load1_milli_max);
	nlt_check_threshold(NLTELEM_THRESHOLD_MEM_AVAILABLE,
			    cfg->mem_available_kib_min &&
			    s->mem_available_kib < cfg->mem_available_kib_min,
			    s->mem_available_kib, cfg->mem_available_kib_min);
	for (i = 0; i < s->n_thermal; i++)
		hottest = max(hottest, s->thermal[i].temp_mdegc);
	nlt_check_threshold(NLTELEM_THRESHOLD_TEMPERATURE,
			    cfg->temp_mdegc_max && s->n_thermal && hottest > cfg->temp_mdegc_max,
			    hottest, cfg->temp_mdegc_max);
}

static void nlt_check_watchdog(const struct nlt_config *cfg)
{
	struct nlt_event ev = { .kind = NLTELEM_EVENT_KIND_WATCHDOG };
	unsigned long since;
	bool fire = false;

	spin_lock(&nlt_lock);
	since = jiffies - nlt_heartbeat_at;
	if (cfg->watchdog_ms && !nlt_watchdog_fired &&
	    since > msecs_to_jiffies(cfg->watchdog_ms)) {
		nlt_watchdog_fired = true;
		fire = true;
	}
	spin_unlock(&nlt_lock);
	if (fire) {
		ev.silence_ms = jiffies_to_msecs(since);
		nlt_send_event(&ev);
	}
}

static void nlt_queue_work(unsigned long delay)
{
	spin_lock(&nlt_lock);
	if (!nlt_stopping)
		mod_delayed_work(system_wq, &nlt_work, delay);
	spin_unlock(&nlt_lock);
}

static struct nlt_sample nlt_work_sample;	/* the work's own, too big for its stack */

static void nlt_work_fn(struct work_struct *work)
{
	struct nlt_sample *s = &nlt_work_sample;
	bool telemetry[NLT_XP_COUNT], any_telemetry = false, any_events = false;
	struct nlt_config cfg;
	enum nlt_xport xport;
	unsigned long delay;

	spin_lock(&nlt_lock);
	cfg = nlt_cfg;
	spin_unlock(&nlt_lock);

	for (xport = 0; xport < NLT_XP_COUNT; xport++) {
		telemetry[xport] = nlt_listening(xport, NLTELEM_NLGRP_TELEMETRY);
		any_telemetry |= telemetry[xport];
		any_events |= nlt_listening(xport, NLTELEM_NLGRP_EVENTS);
	}
	/* Nobody listens: nothing is read, allocated or sent. */
	if (any_telemetry || any_events) {
		nlt_collect(s, cfg.sources);
		if (cfg.sources & NLTELEM_SOURCE_THERMAL)
			nlt_read_thermal(s);
		else
			s->n_thermal = 0;
		s->snapshot_seq = ++nlt_snapshot_seq;
		atomic64_inc(&nlt_stats.snapshots);
		for (xport = 0; xport < NLT_XP_COUNT; xport++)
			if (telemetry[xport])
				nlt_send_snapshot(s, xport, NULL);
		if (any_events)
			nlt_check_thresholds(s, &cfg);
	}
	nlt_check_watchdog(&cfg);

	delay = msecs_to_jiffies(any_telemetry || any_events || cfg.watchdog_ms ?
				 cfg.period_ms : max_t(u32, cfg.period_ms, NLT_IDLE_POLL_MS));
	nlt_queue_work(delay);
}

static struct sk_buff *nlt_reply_new(const struct nltelem_req *req, struct nlmsghdr **nlh)
{
	struct sk_buff *skb = nlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);

	if (!skb) {
		atomic64_inc(&nlt_stats.alloc_fail);
		return NULL;
	}
	*nlh = nlt_msg_put(skb, req->xport, req->portid, req->seq, req->cmd, 0);
	if (!*nlh) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

int nltelem_get_sample_doit(struct nltelem_req *req)
{
	struct nlt_sample *s;
	u32 sources;
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	spin_lock(&nlt_lock);
	sources = nlt_cfg.sources;
	/* Sensors may sleep: the requester gets the sampler's last reading. */
	memcpy(s->thermal, nlt_thermal_cache, sizeof(s->thermal));
	s->n_thermal = nlt_thermal_cached;
	spin_unlock(&nlt_lock);
	nlt_collect(s, sources);
	s->snapshot_seq = 0;	/* not one of the broadcast snapshots */
	err = nlt_send_snapshot(s, req->xport, req);
	kfree(s);
	return err;
}

int nltelem_get_config_doit(struct nltelem_req *req)
{
	struct nlt_config cfg;
	struct nlmsghdr *nlh;
	struct sk_buff *skb;

	spin_lock(&nlt_lock);
	cfg = nlt_cfg;
	spin_unlock(&nlt_lock);
	skb = nlt_reply_new(req, &nlh);
	if (!skb)
		return -ENOMEM;
	if (nla_put_u32(skb, NLTELEM_A_CONFIG_PERIOD_MS, cfg.period_ms) ||
	    nla_put_u32(skb, NLTELEM_A_CONFIG_SOURCES, cfg.sources) ||
	    nla_put_u32(skb, NLTELEM_A_CONFIG_LOAD1_MILLI_MAX, cfg.load1_milli_max) ||
	    nla_put_u64_64bit(skb, NLTELEM_A_CONFIG_MEM_AVAILABLE_KIB_MIN,
			      cfg.mem_available_kib_min, NLTELEM_A_CONFIG_PAD) ||
	    nla_put_s32(skb, NLTELEM_A_CONFIG_TEMP_MDEGC_MAX, cfg.temp_mdegc_max) ||
	    nla_put_u32(skb, NLTELEM_A_CONFIG_WATCHDOG_MS, cfg.watchdog_ms)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	nlmsg_end(skb, nlh);
	return nlt_unicast(req->xport, skb, req->portid);
}

int nltelem_set_config_doit(struct nltelem_req *req)
{
	struct nlattr **tb = req->tb;
	struct nlt_event ev = {
		.kind = NLTELEM_EVENT_KIND_CONFIG_CHANGED,
		.portid = req->portid,
		.transport = req->xport == NLT_XP_GENL ? NLTELEM_TRANSPORT_GENL :
			     NLTELEM_TRANSPORT_CLASSIC,
	};
	bool period_changed = false;
	int i;

	for (i = 1; i <= NLTELEM_A_CONFIG_WATCHDOG_MS; i++)
		if (tb[i])
			break;
	if (i > NLTELEM_A_CONFIG_WATCHDOG_MS) {
		NL_SET_ERR_MSG(req->extack, "nltelem: SET_CONFIG needs at least one setting");
		return -EINVAL;
	}

	spin_lock(&nlt_lock);
	if (tb[NLTELEM_A_CONFIG_PERIOD_MS]) {
		nlt_cfg.period_ms = nla_get_u32(tb[NLTELEM_A_CONFIG_PERIOD_MS]);
		period_changed = true;
	}
	if (tb[NLTELEM_A_CONFIG_SOURCES])
		nlt_cfg.sources = nla_get_u32(tb[NLTELEM_A_CONFIG_SOURCES]);
	if (tb[NLTELEM_A_CONFIG_LOAD1_MILLI_MAX])
		nlt_cfg.load1_milli_max = nla_get_u32(tb[NLTELEM_A_CONFIG_LOAD1_MILLI_MAX]);
	if (tb[NLTELEM_A_CONFIG_MEM_AVAILABLE_KIB_MIN])
		nlt_cfg.mem_available_kib_min =
			nla_get_u64(tb[NLTELEM_A_CONFIG_MEM_AVAILABLE_KIB_MIN]);
	if (tb[NLTELEM_A_CONFIG_TEMP_MDEGC_MAX])
		nlt_cfg.temp_mdegc_max = nla_get_s32(tb[NLTELEM_A_CONFIG_TEMP_MDEGC_MAX]);
	if (tb[NLTELEM_A_CONFIG_WATCHDOG_MS]) {
		nlt_cfg.watchdog_ms = nla_get_u32(tb[NLTELEM_A_CONFIG_WATCHDOG_MS]);
		/* A new watchdog counts from now, not from a long-gone heartbeat. */
		nlt_heartbeat_at = jiffies;
		nlt_watchdog_fired = false;
	}
	spin_unlock(&nlt_lock);

	/* The change first, then what the sampler makes of it. */
	nlt_send_event(&ev);
	if (period_changed)
		nlt_queue_work(0);
	return 0;
}

/* A heartbeat attribute added after the first release: 0 when an older agent omits it. */
static u64 nlt_optional_u64(const struct nlattr *attr)
{
	return attr ? nla_get_u64(attr) : 0;
}

int nltelem_heartbeat_doit(struct nltelem_req *req)
{
	spin_lock(&nlt_lock);
	nlt_agent[NLT_AGENT_RECEIVED] = nla_get_u64(req->tb[NLTELEM_A_HEARTBEAT_RECEIVED]);
	nlt_agent[NLT_AGENT_LOST] = nla_get_u64(req->tb[NLTELEM_A_HEARTBEAT_LOST]);
	nlt_agent[NLT_AGENT_EXPORTED] = nla_get_u64(req->tb[NLTELEM_A_HEARTBEAT_EXPORTED]);
	nlt_agent[NLT_AGENT_OVERRUNS] =
		nlt_optional_u64(req->tb[NLTELEM_A_HEARTBEAT_OVERRUNS]);
	nlt_agent[NLT_AGENT_EXPORT_ERRORS] =
		nlt_optional_u64(req->tb[NLTELEM_A_HEARTBEAT_EXPORT_ERRORS]);
	nlt_heartbeat_at = jiffies;
	nlt_heartbeat_seen = true;
	nlt_watchdog_fired = false;
	spin_unlock(&nlt_lock);
	atomic64_inc(&nlt_stats.heartbeats);
	return 0;
}

static int nlt_put_counter(struct sk_buff *skb, int type, atomic64_t *counter)
{
	return nla_put_u64_64bit(skb, type, atomic64_read(counter), NLTELEM_A_STATS_PAD);
}

int nltelem_get_stats_doit(struct nltelem_req *req)
{
	unsigned long heartbeat_at;
	struct nlmsghdr *nlh;
	struct sk_buff *skb;
	struct nlattr *nest;
	bool seen;
	u64 agent[NLT_AGENT_COUNTERS];
	size_t i;
	s64 fails;

	spin_lock(&nlt_lock);
	heartbeat_at = nlt_heartbeat_at;
	seen = nlt_heartbeat_seen;
	memcpy(agent, nlt_agent, sizeof(agent));
	spin_unlock(&nlt_lock);

	skb = nlt_reply_new(req, &nlh);
	if (!skb)
		return -ENOMEM;
	if (nlt_put_counter(skb, NLTELEM_A_STATS_TELEMETRY_SENT,
			    &nlt_stats.sent[NLTELEM_NLGRP_TELEMETRY]) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_EVENTS_SENT,
			    &nlt_stats.sent[NLTELEM_NLGRP_EVENTS]) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_ALLOC_FAIL, &nlt_stats.alloc_fail) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_REQUESTS, &nlt_stats.requests) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_REJECTS, &nlt_stats.rejects) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_UNICAST_FAIL, &nlt_stats.unicast_fail) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_SNAPSHOTS, &nlt_stats.snapshots) ||
	    nlt_put_counter(skb, NLTELEM_A_STATS_HEARTBEATS, &nlt_stats.heartbeats))
		goto too_big;
	for (i = 0; i < ARRAY_SIZE(nlt_counted_errnos); i++) {
		fails = atomic64_read(&nlt_stats.bcast_fail[i]);
		if (!fails)
			continue;
		nest = nla_nest_start(skb, NLTELEM_A_STATS_BCAST_FAIL);
		if (!nest ||
		    nla_put_u32(skb, NLTELEM_A_ERRNO_COUNT_ERRNO, nlt_counted_errnos[i]) ||
		    nla_put_u64_64bit(skb, NLTELEM_A_ERRNO_COUNT_COUNT, fails,
				      NLTELEM_A_ERRNO_COUNT_PAD))
			goto too_big;
		nla_nest_end(skb, nest);
	}
	if (seen &&
	    (nla_put_u64_64bit(skb, NLTELEM_A_STATS_HEARTBEAT_AGE_MS,
			       jiffies_to_msecs(jiffies - heartbeat_at), NLTELEM_A_STATS_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_STATS_AGENT_RECEIVED,
			       agent[NLT_AGENT_RECEIVED], NLTELEM_A_STATS_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_STATS_AGENT_LOST, agent[NLT_AGENT_LOST],
			       NLTELEM_A_STATS_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_STATS_AGENT_EXPORTED,
			       agent[NLT_AGENT_EXPORTED], NLTELEM_A_STATS_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_STATS_AGENT_OVERRUNS,
			       agent[NLT_AGENT_OVERRUNS], NLTELEM_A_STATS_PAD) ||
	     nla_put_u64_64bit(skb, NLTELEM_A_STATS_AGENT_EXPORT_ERRORS,
			       agent[NLT_AGENT_EXPORT_ERRORS], NLTELEM_A_STATS_PAD)))
		goto too_big;
	nlmsg_end(skb, nlh);
	return nlt_unicast(req->xport, skb, req->portid);

too_big:
	nlmsg_free(skb);
	return -EMSGSIZE;
}

/* The request path shared by both transports, after parsing. */
static int nlt_dispatch(struct nltelem_req *req)
{
	const struct nltelem_op *op = &nltelem_ops[req->cmd];
	int err;

	atomic64_inc(&nlt_stats.requests);
	err = nltelem_check_required(req->cmd, req->tb, req->extack);
	if (!err)
		err = op->doit(req);
	if (err)
		atomic64_inc(&nlt_stats.rejects);
	return err;
}

int nltelem_nl_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nltelem_req req = {
		.xport = NLT_XP_GENL,
		.skb = skb,
		.tb = info->attrs,
		.extack = info->extack,
		.portid = info->snd_portid,
		.seq = info->snd_seq,
		.cmd = info->genlhdr->cmd,
	};

	return nlt_dispatch(&req);
}

/* DUMP_NETDEV: one message per interface; the cursor lives in cb->args. */
static int nlt_dump_netdev(struct sk_buff *skb, struct netlink_callback *cb,
			   enum nlt_xport xport)
{
	unsigned long h = cb->args[0], s_idx = cb->args[1], idx = 0;
	struct net_device *dev;
	struct nlmsghdr *nlh;

	rcu_read_lock();
	/* The interface list's generation: a change between parts flags DUMP_INTR. */
	cb->seq = READ_ONCE(init_net.dev_base_seq);
	for (; h < NETDEV_HASHENTRIES; h++, s_idx = 0) {
		idx = 0;
		hlist_for_each_entry_rcu(dev, &init_net.dev_index_head[h], index_hlist) {
			if (idx < s_idx) {
				idx++;
				continue;
			}
			nlh = nlt_msg_put(skb, xport, NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq, NLTELEM_CMD_DUMP_NETDEV,
					  NLM_F_MULTI);
			if (!nlh)
				goto out;
			if (nlt_put_netdev(skb, dev)) {
				nlmsg_cancel(skb, nlh);
				goto out;
			}
			nl_dump_check_consistent(cb, nlh);
			nlmsg_end(skb, nlh);
			idx++;
		}
	}
out:
	rcu_read_unlock();
	cb->args[0] = h;
	cb->args[1] = idx;
	return skb->len;
}

int nltelem_nl_dump_netdev_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return nlt_dump_netdev(skb, cb, NLT_XP_GENL);
}

int nltelem_classic_dump_netdev_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return nlt_dump_netdev(skb, cb, NLT_XP_CLASSIC);
}

/* The classic unit: parse and check what the genl core does for the family. */
static int nlt_classic_rcv_msg(struct sk_buff *skb, struct nlmsghdr *nlh,
			       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[NLTELEM_REQ_MAXATTR + 1] = {};
	const struct nltelem_op *op = NULL;
	struct nltelem_req req = {
		.xport = NLT_XP_CLASSIC,
		.skb = skb,
		.tb = tb,
		.extack = extack,
		.portid = NETLINK_CB(skb).portid,
		.seq = nlh->nlmsg_seq,
	};
	struct netlink_dump_control dump = {};
	int err = -EOPNOTSUPP;

	if (nlh->nlmsg_type > NLTELEM_CLASSIC_TYPE(0) &&
	    nlh->nlmsg_type <= NLTELEM_CLASSIC_TYPE(NLTELEM_CMD_MAX)) {
		req.cmd = nlh->nlmsg_type - NLTELEM_CLASSIC_TYPE(0);
		op = &nltelem_ops[req.cmd];
	}
	if (!op || (!op->doit && !op->dumpit)) {
		NL_SET_ERR_MSG(extack, "nltelem: unknown command");
		goto reject;
	}
	if (op->admin_perm && !netlink_net_capable(skb, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG(extack, "nltelem: command needs CAP_NET_ADMIN");
		err = -EPERM;
		goto reject;
	}
	if (op->policy) {
		err = nlmsg_parse(nlh, 0, tb, op->maxattr, op->policy, extack);
		if (err)
			goto reject;
	} else if (nlmsg_attrlen(nlh, 0)) {
		NL_SET_ERR_MSG(extack, "nltelem: command takes no attributes");
		err = -EINVAL;
		goto reject;
	}
	if (nlh->nlmsg_flags & NLM_F_DUMP) {
		if (!op->dumpit) {
			NL_SET_ERR_MSG(extack, "nltelem: command has no dump");
			err = -EOPNOTSUPP;
			goto reject;
		}
		atomic64_inc(&nlt_stats.requests);
		dump.dump = op->dumpit;
		return netlink_dump_start(nlt_classic_sk, skb, nlh, &dump);
	}
	if (!op->doit) {
		NL_SET_ERR_MSG(extack, "nltelem: command is a dump: set NLM_F_DUMP");
		err = -EOPNOTSUPP;
		goto reject;
	}
	return nlt_dispatch(&req);

reject:
	atomic64_inc(&nlt_stats.requests);
	atomic64_inc(&nlt_stats.rejects);
	return err;
}

static void nlt_classic_input(struct sk_buff *skb)
{
	netlink_rcv_skb(skb, nlt_classic_rcv_msg);
}

/* A new listener on the classic unit: sample now rather than at the next idle poll. */
static int nlt_classic_bind(struct net *net, int group)
{
	nlt_queue_work(0);
	return 0;
}

static int nlt_netdev_event(struct notifier_block *nb, unsigned long what, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct netdev_notifier_change_info *change = ptr;
	struct nlt_event ev = { .dev = dev };
	bool stopping;

	if (!net_eq(dev_net(dev), &init_net))
		return NOTIFY_DONE;
	switch (what) {
	case NETDEV_UP:
	case NETDEV_DOWN:
		break;
	case NETDEV_CHANGE:
		/* Flag changes (promiscuity...) are not link changes. */
		if (change->flags_changed)
			return NOTIFY_DONE;
		break;
	default:
		return NOTIFY_DONE;
	}
	/* Unregistering the notifier replays NETDEV_DOWN for every interface. */
	spin_lock(&nlt_lock);
	stopping = nlt_stopping;
	spin_unlock(&nlt_lock);
	if (stopping)
		return NOTIFY_DONE;
	ev.kind = netif_running(dev) && netif_oper_up(dev) ? NLTELEM_EVENT_KIND_LINK_UP :
							      NLTELEM_EVENT_KIND_LINK_DOWN;
	nlt_send_event(&ev);
	return NOTIFY_DONE;
}

static struct notifier_block nlt_netdev_nb = {
	.notifier_call = nlt_netdev_event,
};

static struct genl_family nltelem_nl_family = {
	.name = NLTELEM_FAMILY_NAME,
	.version = NLTELEM_FAMILY_VERSION,
	.module = THIS_MODULE,
	.ops = nltelem_nl_ops,
	.n_ops = ARRAY_SIZE(nltelem_nl_ops),
	.mcgrps = nltelem_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(nltelem_nl_mcgrps),
};

static void nlt_parse_zone_names(void)
{
	const char *p = thermal_zones;
	size_t len;

	while (p && *p && nlt_n_zones < NLT_MAX_THERMAL) {
		len = strcspn(p, ",");
		if (len && len < THERMAL_NAME_LENGTH) {
			memcpy(nlt_zone_names[nlt_n_zones], p, len);
			nlt_zone_names[nlt_n_zones][len] = '\0';
			nlt_n_zones++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
}

static int __init nltelem_init(void)
{
	struct netlink_kernel_cfg classic_cfg = {
		.groups = NLTELEM_CLASSIC_GROUP_EVENTS,
		.flags = NL_CFG_F_NONROOT_RECV,
		.input = nlt_classic_input,
		.bind = nlt_classic_bind,
	};
	size_t i;
	int err;

	if (unit < 0 || unit >= MAX_LINKS) {
		pr_err("unit %d out of range 0..%d\n", unit, MAX_LINKS - 1);
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(nlt_stats.bcast_fail); i++)
		atomic64_set(&nlt_stats.bcast_fail[i], 0);
	nlt_parse_zone_names();
	nlt_heartbeat_at = jiffies;

	err = genl_register_family(&nltelem_nl_family);
	if (err)
		return err;
	if (unit) {
		nlt_classic_sk = netlink_kernel_create(&init_net, unit, &classic_cfg);
		if (!nlt_classic_sk) {
			pr_err("cannot open classic unit %d (in use?)\n", unit);
			err = -EBUSY;
			goto err_family;
		}
	}
	err = register_netdevice_notifier(&nlt_netdev_nb);
	if (err)
		goto err_classic;
	nlt_queue_work(0);
	pr_info("family %s id %u, classic unit %d\n", NLTELEM_FAMILY_NAME,
		nltelem_nl_family.id, unit);
	return 0;

err_classic:
	if (nlt_classic_sk)
		netlink_kernel_release(nlt_classic_sk);
err_family:
	genl_unregister_family(&nltelem_nl_family);
	return err;
}

static void __exit nltelem_exit(void)
{
	/* No new work from here on: binds, SET_CONFIG and the work itself check this. */
	spin_lock(&nlt_lock);
	nlt_stopping = true;
	spin_unlock(&nlt_lock);
	cancel_delayed_work_sync(&nlt_work);
	unregister_netdevice_notifier(&nlt_netdev_nb);
	/* Waits for running requests; a running dump holds a module reference. */
	genl_unregister_family(&nltelem_nl_family);
	if (nlt_classic_sk)
		netlink_kernel_release(nlt_classic_sk);
}

module_init(nltelem_init);
module_exit(nltelem_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Appliance telemetry over generic and classic netlink");
MODULE_ALIAS_GENL_FAMILY(NLTELEM_FAMILY_NAME);
