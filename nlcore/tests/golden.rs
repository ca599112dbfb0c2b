//! Golden bytes: messages nlcore did not produce itself.
//!
//! 1. The annotated `CTRL_CMD_GETFAMILY` exchange of the kernel's
//!    `Documentation/userspace-api/netlink/intro.rst`, written out below as bytes.
//! 2. Datagrams captured from a real kernel by `golden/capture.py` (see `golden/README.md`
//!    for how and on which kernel). The expected values were read from the same files by
//!    the capture script's own struct-based decoder, not by nlcore.
//!
//! Netlink is host byte order and the files were captured on a little-endian machine, so
//! these tests only make sense on little-endian targets.
#![cfg(target_endian = "little")]

use nlcore::consts::*;
use nlcore::genl::{build_dump_families, build_get_family, FamilyInfo, FamilyOp, McastGroup};
use nlcore::{
    AttrIter, AttrPolicy, Error, MessageIter, MsgBuilder, NlMsg, NlMsgHdr, Payload, Policy,
    Validation,
};

// --- rtnetlink names used by the captured files (include/uapi/linux/rtnetlink.h,
// if_link.h, if_arp.h, if.h); nlcore itself does not need them.
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const IFINFOMSG_LEN: usize = 16;
const ARPHRD_LOOPBACK: u16 = 772;
const IFF_LOOPBACK: u32 = 0x8;
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_STATS: u16 = 7;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_STATS64: u16 = 23;
const IFLA_AF_SPEC: u16 = 26;
const IF_OPER_DOWN: u8 = 2;
const ENOENT: i32 = 2;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;
// include/uapi/linux/netlink.h, enum netlink_attribute_type / netlink_policy_type_attr.
const NL_ATTR_TYPE_STRING: u32 = 11;
const NL_POLICY_TYPE_ATTR_TYPE: u16 = 1;
const NL_POLICY_TYPE_ATTR_MAX_LENGTH: u16 = 7;

// =============================================================================================
// 1. intro.rst, section "Resolving the Family ID"
// =============================================================================================

/// The request of intro.rst: resolve the family called "test1".
#[rustfmt::skip]
const DOC_REQUEST: [u8; 32] = [
    // struct nlmsghdr
    32, 0, 0, 0,        // nlmsg_len: 32
    0x10, 0,            // nlmsg_type: GENL_ID_CTRL           (1)
    0x05, 0,            // nlmsg_flags: NLM_F_REQUEST | NLM_F_ACK  (2)
    1, 0, 0, 0,         // nlmsg_seq: 1
    0, 0, 0, 0,         // nlmsg_pid: 0
    // struct genlmsghdr
    3,                  // cmd: CTRL_CMD_GETFAMILY            (3)
    2,                  // version: 2
    0, 0,               // reserved
    // struct nlattr                                          (4)
    10, 0,              // nla_len: 10
    2, 0,               // nla_type: CTRL_ATTR_FAMILY_NAME
    b't', b'e', b's', b't', b'1', 0,
    0, 0,               // padding to 4
];

/// The reply of intro.rst (message #1). The document shows its first attributes and then
/// elides the rest ("etc, more attributes will follow") while giving nlmsg_len 136. Bytes
/// 0..40 are the document's. From byte 40 on it is completed the way the kernel's
/// `ctrl_fill_info` writes a family (as the captured `nlctrl` reply below shows):
/// - the document's third attribute reads "nla_len 9, CTRL_ATTR_FAMILY_VERSION, __u16 1",
///   which is self-contradictory; the kernel sends `CTRL_ATTR_VERSION` as a u32, so it is
///   written here as nla_len 8 with the document's value 1;
/// - hdrsize, maxattr, two ops and one multicast group are made up for the test, sized so
///   that the message is exactly the document's 136 bytes.
#[rustfmt::skip]
const DOC_REPLY: [u8; 136] = [
    // struct nlmsghdr
    136, 0, 0, 0,       // nlmsg_len: 136
    0x10, 0,            // nlmsg_type: GENL_ID_CTRL
    0, 0,               // nlmsg_flags: 0
    1, 0, 0, 0,         // nlmsg_seq: 1, echoed from the request
    0xc7, 0x16, 0, 0,   // nlmsg_pid: 5831, the requester's port
    // struct genlmsghdr
    3, 2, 0, 0,         // cmd: CTRL_CMD_GETFAMILY, version 2, reserved 0
    // CTRL_ATTR_FAMILY_NAME "test1\0" + 2 bytes padding
    10, 0, 2, 0, b't', b'e', b's', b't', b'1', 0, 0, 0,
    // CTRL_ATTR_FAMILY_ID u16 123 + 2 bytes padding
    6, 0, 1, 0, 123, 0, 0, 0,
    // --- completion (see above) ---
    // CTRL_ATTR_VERSION u32 1
    8, 0, 3, 0, 1, 0, 0, 0,
    // CTRL_ATTR_HDRSIZE u32 0
    8, 0, 4, 0, 0, 0, 0, 0,
    // CTRL_ATTR_MAXATTR u32 2
    8, 0, 5, 0, 2, 0, 0, 0,
    // CTRL_ATTR_OPS: 4 + 2 x 20 bytes; entries are numbered 1, 2 and carry no NLA_F_NESTED,
    // as the kernel writes them
    44, 0, 6, 0,
        20, 0, 1, 0,
            8, 0, 1, 0, 1, 0, 0, 0,     // CTRL_ATTR_OP_ID 1
            8, 0, 2, 0, 0x0a, 0, 0, 0,  // CTRL_ATTR_OP_FLAGS GENL_CMD_CAP_DO | _HASPOL
        20, 0, 2, 0,
            8, 0, 1, 0, 2, 0, 0, 0,     // CTRL_ATTR_OP_ID 2
            8, 0, 2, 0, 0x04, 0, 0, 0,  // CTRL_ATTR_OP_FLAGS GENL_CMD_CAP_DUMP
    // CTRL_ATTR_MCAST_GROUPS: one group
    28, 0, 7, 0,
        24, 0, 1, 0,
            8, 0, 2, 0, 9, 0, 0, 0,     // CTRL_ATTR_MCAST_GRP_ID 9
            11, 0, 1, 0, b'e', b'v', b'e', b'n', b't', b's', 0, 0, // _GRP_NAME "events"
];

/// The ACK of intro.rst (message #2): error 0, capped, with a copy of the request header.
#[rustfmt::skip]
const DOC_ACK: [u8; 36] = [
    // struct nlmsghdr
    36, 0, 0, 0,        // nlmsg_len: 36
    2, 0,               // nlmsg_type: NLMSG_ERROR
    0x00, 0x01,         // nlmsg_flags: NLM_F_CAPPED (no payload follows)
    1, 0, 0, 0,         // nlmsg_seq: 1
    0xc7, 0x16, 0, 0,   // nlmsg_pid: 5831
    0, 0, 0, 0,         // int error: 0
    // struct nlmsghdr: the request header as sent
    32, 0, 0, 0, 0x10, 0, 0x05, 0, 1, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn intro_rst_request_is_built_byte_for_byte() {
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    build_get_family(&mut b, "test1", 1).unwrap();
    assert_eq!(b.as_bytes(), &DOC_REQUEST[..]);
}

#[test]
fn intro_rst_request_parses_back() {
    let msg = NlMsg::new_checked(&DOC_REQUEST).unwrap();
    assert_eq!(
        msg.header(),
        NlMsgHdr {
            len: 32,
            ty: GENL_ID_CTRL,
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq: 1,
            pid: 0
        }
    );
    let genl = msg.genl_header().unwrap();
    assert_eq!(
        (genl.cmd, genl.version, genl.reserved),
        (CTRL_CMD_GETFAMILY, 2, 0)
    );
    let name = msg.genl_attrs().unwrap().find(CTRL_ATTR_FAMILY_NAME);
    assert_eq!(name.unwrap().unwrap().get_str(), Ok("test1"));
}

#[test]
fn intro_rst_reply_parses_to_family_info() {
    let msg = NlMsg::new_checked(&DOC_REPLY).unwrap();
    assert_eq!((msg.seq(), msg.pid(), msg.flags()), (1, 5831, 0));
    let Payload::Data(data) = Payload::parse(msg).unwrap() else {
        panic!("a family reply is data");
    };
    let info = FamilyInfo::parse(data).unwrap();
    assert_eq!(info.cmd, CTRL_CMD_GETFAMILY);
    assert_eq!(info.id, 123);
    assert_eq!(info.name, "test1");
    assert_eq!(info.version, 1);
    assert_eq!(info.hdr_size, 0);
    assert_eq!(info.max_attr, 2);
    let ops: Vec<FamilyOp> = info.ops().map(Result::unwrap).collect();
    assert_eq!(
        ops,
        [
            FamilyOp {
                id: 1,
                flags: GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL
            },
            FamilyOp {
                id: 2,
                flags: GENL_CMD_CAP_DUMP
            }
        ]
    );
    let groups: Vec<McastGroup> = info.mcast_groups().map(Result::unwrap).collect();
    assert_eq!(
        groups,
        [McastGroup {
            name: "events",
            id: 9
        }]
    );
    assert_eq!(info.mcast_group("events"), Ok(Some(9)));
    assert_eq!(info.mcast_group("notify"), Ok(None));
}

#[test]
fn intro_rst_ack_acknowledges_the_request() {
    let msg = NlMsg::new_checked(&DOC_ACK).unwrap();
    let Payload::Ack(ack) = Payload::parse(msg).unwrap() else {
        panic!("error 0 is an ACK");
    };
    assert_eq!(
        ack.request,
        NlMsg::new_checked(&DOC_REQUEST).unwrap().header()
    );
    assert!(ack.ext_ack.is_empty());
}

#[test]
fn intro_rst_reply_and_ack_in_one_datagram() {
    let mut datagram = DOC_REPLY.to_vec();
    datagram.extend_from_slice(&DOC_ACK);
    let kinds: Vec<&str> = MessageIter::new(&datagram)
        .map(|m| match Payload::parse(m.unwrap()).unwrap() {
            Payload::Data(_) => "data",
            Payload::Ack(_) => "ack",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["data", "ack"]);
}

// =============================================================================================
// 2. Captured from a real kernel (golden/README.md)
// =============================================================================================

const NLCTRL_REPLY: &[u8] = include_bytes!("golden/ctrl_getfamily_nlctrl-0.bin");
const NLCTRL_ACK: &[u8] = include_bytes!("golden/ctrl_getfamily_nlctrl-1.bin");
const FAMILY_DUMP: &[u8] = include_bytes!("golden/ctrl_dump_families-0.bin");
const ENOENT_ERROR: &[u8] = include_bytes!("golden/ctrl_getfamily_enoent-0.bin");
const STRICT_DONE_ERROR: &[u8] = include_bytes!("golden/rtm_getlink_strict_done_error-0.bin");
const LONG_NAME_ERROR: &[u8] = include_bytes!("golden/rtm_getlink_long_name_error-0.bin");
const LONG_NAME_CAPPED: &[u8] = include_bytes!("golden/rtm_getlink_long_name_capped-0.bin");
const LO_REPLY: &[u8] = include_bytes!("golden/rtm_getlink_lo_ack-0.bin");
const LO_ACK: &[u8] = include_bytes!("golden/rtm_getlink_lo_ack-1.bin");
const LINK_DUMP: &[u8] = include_bytes!("golden/rtm_getlink_dump-0.bin");
const LINK_DUMP_DONE: &[u8] = include_bytes!("golden/rtm_getlink_dump-1.bin");

/// The port the kernel assigned to the capture's sockets; it writes it into every reply.
const CAPTURE_PORT: u32 = 0x1ebc;

/// The single message of a datagram that must hold exactly one.
fn only_message(datagram: &[u8]) -> NlMsg<'_> {
    let msgs: Vec<NlMsg> = MessageIter::new(datagram).map(Result::unwrap).collect();
    assert_eq!(msgs.len(), 1, "one message per datagram");
    assert_eq!(msgs[0].bytes().len(), datagram.len());
    msgs[0]
}

#[test]
fn captured_nlctrl_family_reply() {
    let msg = only_message(NLCTRL_REPLY);
    assert_eq!(
        msg.header(),
        NlMsgHdr {
            len: 136,
            ty: GENL_ID_CTRL,
            flags: 0,
            seq: 1,
            pid: CAPTURE_PORT
        }
    );
    let info = FamilyInfo::parse(msg).unwrap();
    // The kernel answers a GETFAMILY with CTRL_CMD_NEWFAMILY (intro.rst shows GETFAMILY).
    assert_eq!(info.cmd, CTRL_CMD_NEWFAMILY);
    assert_eq!(info.id, GENL_ID_CTRL);
    assert_eq!(info.name, GENL_CTRL_NAME);
    assert_eq!(info.version, 2);
    assert_eq!(info.hdr_size, 0);
    // nlctrl has per-command policies, so it reports no family-wide maximum.
    assert_eq!(info.max_attr, 0);
    let ops: Vec<FamilyOp> = info.ops().map(Result::unwrap).collect();
    assert_eq!(
        ops,
        [
            FamilyOp {
                id: u32::from(CTRL_CMD_GETFAMILY),
                flags: GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL
            },
            FamilyOp {
                id: u32::from(CTRL_CMD_GETPOLICY),
                flags: GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL
            },
        ]
    );
    assert_eq!(info.mcast_group(GENL_CTRL_GROUP_NOTIFY), Ok(Some(16)));
    let groups: Vec<McastGroup> = info.mcast_groups().map(Result::unwrap).collect();
    assert_eq!(
        groups,
        [McastGroup {
            name: "notify",
            id: 16
        }]
    );
}

#[test]
fn captured_nlctrl_ack_echoes_the_request_we_build() {
    let Payload::Ack(ack) = Payload::parse(only_message(NLCTRL_ACK)).unwrap() else {
        panic!("error 0 is an ACK");
    };
    assert_eq!(only_message(NLCTRL_ACK).flags(), NLM_F_CAPPED);
    // capture.py sent the same bytes nlcore builds for this request.
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    build_get_family(&mut b, GENL_CTRL_NAME, 1).unwrap();
    assert_eq!(
        ack.request,
        NlMsg::new_checked(b.as_bytes()).unwrap().header()
    );
    assert!(ack.ext_ack.is_empty());
}

#[test]
fn captured_family_dump_is_multipart_and_ends_with_done() {
    let expected = [
        ("nlctrl", 16, 2, 0),
        ("netdev", 20, 1, 0),
        ("ethtool", 21, 1, 0),
        ("tcp_metrics", 27, 1, 13),
        ("mptcp_pm", 28, 1, 0),
        ("SEG6", 29, 1, 7),
        ("IOAM6", 30, 1, 0),
        ("TASKSTATS", 31, 1, 0),
    ];
    let msgs: Vec<NlMsg> = MessageIter::new(FAMILY_DUMP).map(Result::unwrap).collect();
    assert_eq!(msgs.len(), expected.len() + 1);
    let lens: Vec<usize> = msgs.iter().map(|m| m.bytes().len()).collect();
    assert_eq!(lens, [136, 284, 1096, 112, 360, 148, 244, 112, 20]);
    for (msg, &(name, id, version, max_attr)) in msgs.iter().zip(&expected) {
        assert!(
            msg.is_multi(),
            "{name}: every dump part carries NLM_F_MULTI"
        );
        assert!(!msg.is_dump_interrupted());
        assert_eq!(msg.seq(), 2);
        let info = FamilyInfo::parse(*msg).unwrap();
        assert_eq!(
            (info.name, info.id, info.version, info.max_attr),
            (name, id, version, max_attr)
        );
        for op in info.ops() {
            op.unwrap();
        }
        for group in info.mcast_groups() {
            group.unwrap();
        }
    }
    let done = msgs.last().unwrap();
    assert!(done.is_multi());
    let Payload::Done(done) = Payload::parse(*done).unwrap() else {
        panic!("a dump ends with NLMSG_DONE");
    };
    assert_eq!(done.errno, 0);
    assert!(!done.interrupted);
    assert!(done.ext_ack.is_empty());
}

#[test]
fn captured_family_dump_request_matches_builder() {
    // The request is not echoed in a dump, so check what the builder makes for it against
    // the header capture.py wrote (see capture.py: NLM_F_REQUEST | NLM_F_DUMP, seq 2).
    let mut buf = [0u8; 32];
    let mut b = MsgBuilder::new(&mut buf);
    build_dump_families(&mut b, 2).unwrap();
    #[rustfmt::skip]
    let expected: [u8; 20] = [
        20, 0, 0, 0, 0x10, 0, 0x01, 0x03, 2, 0, 0, 0, 0, 0, 0, 0,
        CTRL_CMD_GETFAMILY, 2, 0, 0,
    ];
    assert_eq!(b.as_bytes(), expected);
}

#[test]
fn captured_error_without_ext_ack_echoes_the_whole_request() {
    let msg = only_message(ENOENT_ERROR);
    assert_eq!(msg.flags(), 0, "neither capped nor carrying TLVs");
    let Payload::Error(err) = Payload::parse(msg).unwrap() else {
        panic!("ENOENT is an error");
    };
    assert_eq!(err.errno, ENOENT);
    assert!(err.ext_ack.is_empty());
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    build_get_family(&mut b, "nosuch", 3).unwrap();
    let request = NlMsg::new_checked(b.as_bytes()).unwrap();
    assert_eq!(err.request, request.header());
    assert_eq!(err.request_payload, Some(request.payload()));
}

#[test]
fn captured_done_carrying_an_errno_and_ext_ack_text() {
    let msg = only_message(STRICT_DONE_ERROR);
    assert_eq!(msg.flags(), NLM_F_MULTI | NLM_F_ACK_TLVS);
    assert_eq!(msg.seq(), 4);
    let Payload::Done(done) = Payload::parse(msg).unwrap() else {
        panic!("this kernel ends a refused dump with NLMSG_DONE");
    };
    assert_eq!(done.errno, EINVAL);
    assert!(!done.interrupted);
    assert_eq!(
        done.ext_ack.msg,
        Some("Filter by device index not supported for link dumps")
    );
    assert_eq!(done.ext_ack.offset, None);
}

/// What both long-name errors say: ERANGE, the offending attribute, the policy it broke.
fn check_long_name_ext_ack(err: &nlcore::ErrorMsg<'_>, seq: u32) {
    assert_eq!(err.errno, ERANGE);
    assert_eq!(
        err.request,
        NlMsgHdr {
            len: 60,
            ty: RTM_GETLINK,
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq,
            pid: 0
        }
    );
    let ext = err.ext_ack;
    assert_eq!(ext.msg, Some("Attribute failed policy validation"));
    // The request's nlmsghdr (16) and ifinfomsg (16) come before IFLA_IFNAME.
    assert_eq!(ext.offset, Some(32));
    let policy = Policy::new(
        &[
            AttrPolicy::Unknown,
            AttrPolicy::U32, // NL_POLICY_TYPE_ATTR_TYPE
            AttrPolicy::Unknown,
            AttrPolicy::Unknown,
            AttrPolicy::Unknown,
            AttrPolicy::Unknown,
            AttrPolicy::Unknown,
            AttrPolicy::U32, // NL_POLICY_TYPE_ATTR_MAX_LENGTH
        ],
        Validation::Lenient,
    );
    let table = policy
        .parse::<8>(AttrIter::new(ext.policy.expect("policy TLV")))
        .unwrap();
    let get = |kind| table.require(kind).unwrap().get_u32().unwrap();
    assert_eq!(get(NL_POLICY_TYPE_ATTR_TYPE), NL_ATTR_TYPE_STRING);
    assert_eq!(get(NL_POLICY_TYPE_ATTR_MAX_LENGTH), 15, "IFNAMSIZ - 1");
    assert_eq!(
        (ext.cookie, ext.miss_type, ext.miss_nest),
        (None, None, None)
    );
}

#[test]
fn captured_uncapped_error_with_ext_ack() {
    let msg = only_message(LONG_NAME_ERROR);
    assert_eq!(msg.flags(), NLM_F_ACK_TLVS);
    let Payload::Error(err) = Payload::parse(msg).unwrap() else {
        panic!("an error");
    };
    check_long_name_ext_ack(&err, 7);
    // The echoed request: ifinfomsg, then at the ext-ack's offset the 20-byte name.
    let payload = err.request_payload.expect("uncapped: request echoed");
    assert_eq!(payload.len(), 60 - NLMSG_HDRLEN);
    let offset = err.ext_ack.offset.unwrap() as usize - NLMSG_HDRLEN;
    let culprit = AttrIter::new(&payload[offset..]).next().unwrap().unwrap();
    assert_eq!(culprit.kind(), IFLA_IFNAME);
    assert_eq!(culprit.get_cstr_bytes(), Ok(&[b'x'; 20][..]));
}

#[test]
fn captured_capped_error_with_ext_ack() {
    let msg = only_message(LONG_NAME_CAPPED);
    assert_eq!(msg.flags(), NLM_F_CAPPED | NLM_F_ACK_TLVS);
    let Payload::Error(err) = Payload::parse(msg).unwrap() else {
        panic!("an error");
    };
    check_long_name_ext_ack(&err, 8);
    assert_eq!(err.request_payload, None);
}

/// Checks the `lo` link message of the capture (a fresh network namespace's loopback).
fn check_lo_link(msg: NlMsg<'_>) {
    assert_eq!(msg.ty(), RTM_NEWLINK);
    let ifi = msg.payload();
    assert_eq!(ifi[0], 0, "ifi_family AF_UNSPEC");
    assert_eq!(u16::from_ne_bytes([ifi[2], ifi[3]]), ARPHRD_LOOPBACK);
    assert_eq!(
        i32::from_ne_bytes(ifi[4..8].try_into().unwrap()),
        1,
        "ifindex"
    );
    let flags = u32::from_ne_bytes(ifi[8..12].try_into().unwrap());
    assert_eq!(flags, IFF_LOOPBACK, "lo is down in a new namespace");

    let attrs = msg.attrs(IFINFOMSG_LEN).unwrap();
    assert_eq!(attrs.clone().count(), 38);
    let find = |kind| {
        attrs
            .clone()
            .find(kind)
            .unwrap()
            .expect("attribute present")
    };
    assert_eq!(find(IFLA_IFNAME).get_str(), Ok("lo"));
    assert_eq!(find(IFLA_MTU).get_u32(), Ok(65536));
    assert_eq!(find(IFLA_TXQLEN).get_u32(), Ok(1000));
    assert_eq!(find(IFLA_OPERSTATE).get_u8(), Ok(IF_OPER_DOWN));
    assert_eq!(find(IFLA_QDISC).get_str(), Ok("noop"));
    assert_eq!(find(IFLA_ADDRESS).value(), [0u8; 6]);
    assert_eq!(find(IFLA_BROADCAST).value(), [0u8; 6]);
    assert_eq!(find(IFLA_STATS).value().len(), 96, "struct rtnl_link_stats");
    assert_eq!(
        find(IFLA_STATS64).value().len(),
        200,
        "struct rtnl_link_stats64"
    );
    // The kernel still nests IFLA_AF_SPEC without NLA_F_NESTED; two levels walk cleanly.
    let af_spec = find(IFLA_AF_SPEC);
    assert!(!af_spec.is_nested());
    let mut families = 0;
    for family in af_spec.nested() {
        for inner in family.unwrap().nested() {
            inner.unwrap();
        }
        families += 1;
    }
    assert!(families >= 1);
    // Only two attributes carry NLA_F_NESTED in this capture (types 62 and 65, both empty).
    let flagged: Vec<u16> = attrs
        .clone()
        .map(Result::unwrap)
        .filter(|a| a.is_nested())
        .map(|a| a.kind())
        .collect();
    assert_eq!(flagged, [62, 65]);

    // A lenient policy that knows only a few types checks those and skips the rest...
    let mut table = [AttrPolicy::Unknown; 17];
    table[usize::from(IFLA_IFNAME)] = AttrPolicy::NulString { max_len: 15 };
    table[usize::from(IFLA_MTU)] = AttrPolicy::U32;
    table[usize::from(IFLA_TXQLEN)] = AttrPolicy::U32;
    table[usize::from(IFLA_OPERSTATE)] = AttrPolicy::U8;
    let parsed = Policy::new(&table, Validation::Lenient)
        .parse::<17>(attrs.clone())
        .unwrap();
    assert_eq!(parsed.require(IFLA_MTU).unwrap().get_u32(), Ok(65536));
    // ...and the same policy in strict mode names the first type it does not know: the
    // fourth attribute, IFLA_LINKMODE, after IFLA_IFNAME, IFLA_TXQLEN and IFLA_OPERSTATE.
    assert_eq!(
        Policy::new(&table, Validation::Strict).validate(attrs),
        Err(Error::UnknownAttr {
            attr: IFLA_LINKMODE
        })
    );
}

#[test]
fn captured_getlink_reply_then_ack() {
    let reply = only_message(LO_REPLY);
    assert_eq!((reply.flags(), reply.seq()), (0, 5));
    check_lo_link(reply);
    let ack_msg = only_message(LO_ACK);
    let Payload::Ack(ack) = Payload::parse(ack_msg).unwrap() else {
        panic!("error 0 is an ACK");
    };
    assert_eq!(ack_msg.flags(), NLM_F_CAPPED);
    assert_eq!(
        ack.request,
        NlMsgHdr {
            len: 40,
            ty: RTM_GETLINK,
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq: 5,
            pid: 0
        }
    );
    assert!(ack.ext_ack.is_empty());
}

#[test]
fn captured_getlink_dump() {
    let link = only_message(LINK_DUMP);
    assert!(link.is_multi());
    assert_eq!(link.seq(), 6);
    check_lo_link(link);
    // The same link as the single reply: only the header differs.
    assert_eq!(link.payload(), only_message(LO_REPLY).payload());
    let done = only_message(LINK_DUMP_DONE);
    assert!(done.is_multi());
    assert_eq!(
        Payload::parse(done).unwrap(),
        Payload::Done(nlcore::Done {
            errno: 0,
            interrupted: false,
            ext_ack: nlcore::ExtAck::default()
        })
    );
}
