#!/usr/bin/python3
"""An independent client of the nltelem protocol: pyroute2 (Debian's python3-pyroute2)
decodes a capture of the module's generic netlink traffic.

It resolves the family the way a live client would, from the controller's NEWFAMILY reply
(the family id and the id of the `telemetry` group), then decodes every SAMPLE broadcast
sent to that family with message classes written here from the uapi header's numbers,
not from the project's generated code. It fails unless at least one snapshot decodes with
its sequence numbers, memory, CPU times and the interface `lo`.

Usage: pyroute2_check.py CAPTURE.pcap   (LINKTYPE_NETLINK, as an nlmon device records)
"""

import struct
import sys

from pyroute2.netlink import ctrlmsg, genlmsg, nla

GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY = 1
NLTELEM_CMD_SAMPLE = 1
LINKTYPE_NETLINK = 253
NETLINK_GENERIC = 16


class sample(genlmsg):
    """NLTELEM_CMD_SAMPLE / GET_SAMPLE: attribute set `sample`."""

    nla_map = (
        ("NLTELEM_A_SAMPLE_UNSPEC", "none"),
        ("NLTELEM_A_SAMPLE_SEQ", "uint64"),
        ("NLTELEM_A_SAMPLE_SNAPSHOT_SEQ", "uint64"),
        ("NLTELEM_A_SAMPLE_PART", "uint32"),
        ("NLTELEM_A_SAMPLE_LAST_PART", "flag"),
        ("NLTELEM_A_SAMPLE_TIMESTAMP_NS", "uint64"),
        ("NLTELEM_A_SAMPLE_UPTIME_NS", "uint64"),
        ("NLTELEM_A_SAMPLE_LOAD1_MILLI", "uint32"),
        ("NLTELEM_A_SAMPLE_LOAD5_MILLI", "uint32"),
        ("NLTELEM_A_SAMPLE_LOAD15_MILLI", "uint32"),
        ("NLTELEM_A_SAMPLE_MEM_TOTAL_KIB", "uint64"),
        ("NLTELEM_A_SAMPLE_MEM_FREE_KIB", "uint64"),
        ("NLTELEM_A_SAMPLE_MEM_AVAILABLE_KIB", "uint64"),
        ("NLTELEM_A_SAMPLE_CPU", "cpu_times"),
        ("NLTELEM_A_SAMPLE_NETDEV", "netdev"),
        ("NLTELEM_A_SAMPLE_THERMAL", "thermal_zone"),
        ("NLTELEM_A_SAMPLE_PAD", "none"),
    )

    class cpu_times(nla):
        nla_map = (
            ("NLTELEM_A_CPU_TIMES_UNSPEC", "none"),
            ("NLTELEM_A_CPU_TIMES_USER_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_NICE_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_SYSTEM_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_IDLE_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_IOWAIT_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_IRQ_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_SOFTIRQ_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_STEAL_NS", "uint64"),
            ("NLTELEM_A_CPU_TIMES_PAD", "none"),
        )

    class netdev(nla):
        nla_map = (
            ("NLTELEM_A_NETDEV_UNSPEC", "none"),
            ("NLTELEM_A_NETDEV_IFINDEX", "uint32"),
            ("NLTELEM_A_NETDEV_IFNAME", "asciiz"),
            ("NLTELEM_A_NETDEV_OPER_STATE", "uint8"),
            ("NLTELEM_A_NETDEV_RX_BYTES", "uint64"),
            ("NLTELEM_A_NETDEV_TX_BYTES", "uint64"),
            ("NLTELEM_A_NETDEV_RX_PACKETS", "uint64"),
            ("NLTELEM_A_NETDEV_TX_PACKETS", "uint64"),
            ("NLTELEM_A_NETDEV_RX_ERRORS", "uint64"),
            ("NLTELEM_A_NETDEV_TX_ERRORS", "uint64"),
            ("NLTELEM_A_NETDEV_RX_DROPPED", "uint64"),
            ("NLTELEM_A_NETDEV_TX_DROPPED", "uint64"),
            ("NLTELEM_A_NETDEV_PAD", "none"),
        )

    class thermal_zone(nla):
        nla_map = (
            ("NLTELEM_A_THERMAL_ZONE_UNSPEC", "none"),
            ("NLTELEM_A_THERMAL_ZONE_TYPE", "asciiz"),
            ("NLTELEM_A_THERMAL_ZONE_TEMP_MDEGC", "int32"),
        )


def netlink_messages(path):
    """Yields (netlink family, message bytes) for each message in the capture."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    if magic != 0xA1B2C3D4 or linktype != LINKTYPE_NETLINK:
        raise SystemExit(f"{path}: not a little-endian LINKTYPE_NETLINK pcap")
    offset = 24
    while offset + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, offset)
        record = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        (family,) = struct.unpack_from(">H", record, 14)
        datagram = record[16:]
        pos = 0
        while pos + 16 <= len(datagram):
            (length,) = struct.unpack_from("=I", datagram, pos)
            if length < 16 or pos + length > len(datagram):
                break
            yield family, datagram[pos : pos + length]
            pos += (length + 3) & ~3


def main(path):
    family_id = None
    telemetry_group = None
    snapshots = 0
    for family, msg in netlink_messages(path):
        if family != NETLINK_GENERIC:
            continue
        (msg_type,) = struct.unpack_from("=H", msg, 4)
        cmd = msg[16]
        if msg_type == GENL_ID_CTRL and cmd == CTRL_CMD_NEWFAMILY:
            reply = ctrlmsg(msg)
            reply.decode()
            if reply.get_attr("CTRL_ATTR_FAMILY_NAME") != "nltelem":
                continue
            family_id = reply.get_attr("CTRL_ATTR_FAMILY_ID")
            for group in reply.get_attr("CTRL_ATTR_MCAST_GROUPS") or []:
                if group.get_attr("CTRL_ATTR_MCAST_GRP_NAME") == "telemetry":
                    telemetry_group = group.get_attr("CTRL_ATTR_MCAST_GRP_ID")
            print(f"family nltelem: id {family_id}, group telemetry: id {telemetry_group}")
        elif family_id is not None and msg_type == family_id and cmd == NLTELEM_CMD_SAMPLE:
            s = sample(msg)
            s.decode()
            cpu = s.get_attr("NLTELEM_A_SAMPLE_CPU")
            netdevs = [
                d.get_attr("NLTELEM_A_NETDEV_IFNAME")
                for d in s.get_attrs("NLTELEM_A_SAMPLE_NETDEV")
            ]
            values = {
                "seq": s.get_attr("NLTELEM_A_SAMPLE_SEQ"),
                "snapshot": s.get_attr("NLTELEM_A_SAMPLE_SNAPSHOT_SEQ"),
                "part": s.get_attr("NLTELEM_A_SAMPLE_PART"),
                "mem_total_kib": s.get_attr("NLTELEM_A_SAMPLE_MEM_TOTAL_KIB"),
                "cpu_user_ns": cpu.get_attr("NLTELEM_A_CPU_TIMES_USER_NS") if cpu else None,
            }
            missing = [k for k, v in values.items() if v is None]
            if missing or "lo" not in netdevs:
                raise SystemExit(f"sample without {missing or 'lo'}: {values} {netdevs}")
            print(f"sample: {values}, interfaces {netdevs}")
            snapshots += 1
    if telemetry_group is None:
        raise SystemExit("the capture holds no controller reply for nltelem")
    if snapshots == 0:
        raise SystemExit("no SAMPLE broadcast decoded")
    print(f"pyroute2 decoded {snapshots} sample(s)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
