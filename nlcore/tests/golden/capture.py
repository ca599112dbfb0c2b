#!/usr/bin/env python3
"""Captures real netlink replies from the running kernel as raw datagrams (one .bin each).

Run inside a fresh network namespace so the RTM_GETLINK dump holds only `lo`:

    cd nlcore/tests/golden && unshare -rn python3 capture.py

`python3 capture.py --summary *.bin` decodes saved files without capturing anything.

Every exchange uses its own socket, sends one request and keeps every datagram the
kernel sends back until the final ACK / error / NLMSG_DONE, each in `<name>-<i>.bin`.
It needs no root (a user namespace is enough), talks only to the kernel, and stops by
itself: each receive has a timeout and each exchange a bound on datagrams.

The summary it prints comes from this script's own decoding (Python's struct), which
is independent of nlcore; the Rust tests check that nlcore reads the same values.
"""
import os
import socket
import struct
import sys

NETLINK_ROUTE = 0
NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x01
NLM_F_ACK = 0x04
NLM_F_DUMP = 0x300

GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2

RTM_GETLINK = 18
IFLA_IFNAME = 3

RECV_TIMEOUT_S = 2.0
MAX_DATAGRAMS = 64


def nlattr(kind, value):
    """One attribute, padded to 4 bytes."""
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + b"\0" * (-length % 4)


def nlmsg(ty, flags, seq, payload):
    return struct.pack("=IHHII", 16 + len(payload), ty, flags, seq, 0) + payload


def genl(cmd, version, attrs=b""):
    return struct.pack("=BBH", cmd, version, 0) + attrs


def ifinfomsg(family=0, ty=0, index=0, flags=0, change=0):
    return struct.pack("=BxHiII", family, ty, index, flags, change)


def messages(datagram):
    """(type, flags, seq, payload) of each message, by plain struct decoding."""
    off = 0
    while off + 16 <= len(datagram):
        length, ty, flags, seq, _pid = struct.unpack_from("=IHHII", datagram, off)
        if length < 16 or off + length > len(datagram):
            raise ValueError(f"bad nlmsg_len {length} at {off}")
        yield ty, flags, seq, datagram[off + 16 : off + length]
        off += (length + 3) & ~3


def exchange(name, unit, request, seq, options=()):
    """Sends `request`, saves every reply datagram, returns their count."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, unit)
    try:
        for opt in options:
            sock.setsockopt(SOL_NETLINK, opt, 1)
        sock.settimeout(RECV_TIMEOUT_S)
        sock.bind((0, 0))
        sock.send(request)
        for i in range(MAX_DATAGRAMS):
            datagram = sock.recv(1 << 16)
            path = f"{name}-{i}.bin"
            with open(path, "wb") as f:
                f.write(datagram)
            final = False
            for ty, flags, mseq, payload in messages(datagram):
                summary = f"type={ty} flags={flags:#x} seq={mseq} len={16 + len(payload)}"
                if ty in (NLMSG_ERROR, NLMSG_DONE) and mseq == seq:
                    err = struct.unpack_from("=i", payload)[0] if payload else 0
                    summary += f" error={err}"
                    final = True
                print(f"{path}: {summary}")
            if final:
                return i + 1
        raise RuntimeError(f"{name}: no final message in {MAX_DATAGRAMS} datagrams")
    finally:
        sock.close()


def attrs(buf):
    """(type without flag bits, value) of each attribute, by plain struct decoding."""
    off = 0
    while off + 4 <= len(buf):
        length, kind = struct.unpack_from("=HH", buf, off)
        if length < 4 or off + length > len(buf):
            raise ValueError(f"bad nla_len {length} at {off}")
        yield kind & 0x3FFF, buf[off + 4 : off + length]
        off += (length + 3) & ~3


def summarize(paths):
    """Decodes saved datagrams: the values golden.rs expects, found without nlcore."""
    for path in paths:
        with open(path, "rb") as f:
            datagram = f.read()
        for ty, flags, seq, payload in messages(datagram):
            line = f"{path}: type={ty} flags={flags:#x} seq={seq} len={16 + len(payload)}"
            # Type 16 is GENL_ID_CTRL on NETLINK_GENERIC and RTM_NEWLINK on NETLINK_ROUTE:
            # the file name says which socket it came from.
            generic = os.path.basename(path).startswith("ctrl_")
            if ty == GENL_ID_CTRL and generic:
                found = dict(attrs(payload[4:]))
                name = found[CTRL_ATTR_FAMILY_NAME].rstrip(b"\0").decode()
                (fid,) = struct.unpack("=H", found[CTRL_ATTR_FAMILY_ID])
                nums = [struct.unpack("=I", found[k])[0] if k in found else None for k in (3, 4, 5)]
                line += f" family={name} id={fid} version/hdrsize/maxattr={nums}"
            elif ty == 16:  # RTM_NEWLINK: ifinfomsg, then attributes
                _fam, arphrd, index, ifflags, _chg = struct.unpack_from("=BxHiII", payload)
                found = list(attrs(payload[16:]))
                names = [v.rstrip(b"\0").decode() for k, v in found if k == IFLA_IFNAME]
                line += f" link={names} index={index} type={arphrd} flags={ifflags:#x} attrs={len(found)}"
            elif ty in (NLMSG_ERROR, NLMSG_DONE) and payload:
                line += f" error={struct.unpack_from('=i', payload)[0]}"
            print(line)


def main():
    if sys.argv[1:2] == ["--summary"]:
        return summarize(sorted(sys.argv[2:]))
    print(f"kernel {os.uname().release}")
    getfamily = genl(CTRL_CMD_GETFAMILY, 2, nlattr(CTRL_ATTR_FAMILY_NAME, b"nlctrl\0"))
    exchange("ctrl_getfamily_nlctrl", NETLINK_GENERIC,
             nlmsg(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1, getfamily), 1,
             [NETLINK_EXT_ACK])
    exchange("ctrl_dump_families", NETLINK_GENERIC,
             nlmsg(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_DUMP, 2,
                   genl(CTRL_CMD_GETFAMILY, 2)), 2, [NETLINK_EXT_ACK])
    # A family that does not exist: a plain error (ENOENT), uncapped, so the request's
    # payload comes back echoed; the controller gives no ext-ack text for it.
    no_such = genl(CTRL_CMD_GETFAMILY, 2, nlattr(CTRL_ATTR_FAMILY_NAME, b"nosuch\0"))
    exchange("ctrl_getfamily_enoent", NETLINK_GENERIC,
             nlmsg(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 3, no_such), 3,
             [NETLINK_EXT_ACK])
    # Strict checking refuses a link dump whose ifinfomsg has stray header values; this
    # kernel reports a failed dump start as NLMSG_DONE carrying the errno and ext-ack text.
    bad_dump = ifinfomsg(index=1)
    exchange("rtm_getlink_strict_done_error", NETLINK_ROUTE,
             nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 4, bad_dump), 4,
             [NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK])
    # IFLA_IFNAME longer than IFNAMSIZ - 1 breaks rtnetlink's policy: NLMSG_ERROR (ERANGE)
    # with ext-ack text, the offending attribute's offset and the policy it broke. Once
    # uncapped (request echoed), once capped (NETLINK_CAP_ACK).
    long_name = ifinfomsg() + nlattr(IFLA_IFNAME, b"x" * 20 + b"\0")
    exchange("rtm_getlink_long_name_error", NETLINK_ROUTE,
             nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 7, long_name), 7,
             [NETLINK_EXT_ACK])
    exchange("rtm_getlink_long_name_capped", NETLINK_ROUTE,
             nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 8, long_name), 8,
             [NETLINK_EXT_ACK, NETLINK_CAP_ACK])
    # A harmless request with NLM_F_ACK: the link `lo` by name; reply then ACK.
    get_lo = ifinfomsg() + nlattr(IFLA_IFNAME, b"lo\0")
    exchange("rtm_getlink_lo_ack", NETLINK_ROUTE,
             nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 5, get_lo), 5,
             [NETLINK_EXT_ACK])
    exchange("rtm_getlink_dump", NETLINK_ROUTE,
             nlmsg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 6, ifinfomsg()), 6,
             [NETLINK_EXT_ACK])


if __name__ == "__main__":
    sys.exit(main())
