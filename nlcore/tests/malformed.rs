//! The malformed-input catalogue: one named test per way a message can lie, each with the
//! exact typed error nlcore must return. The bytes are written by hand (tests/common), not
//! by nlcore's builder.

mod common;

use common::{attr, attr_with_len, cat, genl, msg, msg_with_len, pad};
use nlcore::consts::*;
use nlcore::genl::FamilyInfo;
use nlcore::policy::MAX_DEPTH;
use nlcore::{
    Attr, AttrIter, AttrPolicy, Error, ExtAck, MessageIter, MsgBuilder, NlMsg, Payload, Policy,
    Validation,
};

/// Every item of a message iterator, errors included.
fn messages(datagram: &[u8]) -> Vec<Result<NlMsg<'_>, Error>> {
    MessageIter::new(datagram).collect()
}

/// Every item of an attribute iterator, errors included.
fn attrs(buf: &[u8]) -> Vec<Result<Attr<'_>, Error>> {
    AttrIter::new(buf).collect()
}

/// The payload of the only message in `datagram`.
fn payload_of(datagram: &[u8]) -> Result<Payload<'_>, Error> {
    Payload::parse(NlMsg::new_checked(datagram)?)
}

// --- nlmsghdr ---------------------------------------------------------------------------------

#[test]
fn message_truncated_header() {
    let datagram = &msg(NLMSG_MIN_TYPE, 0, 1, &[])[..10];
    assert_eq!(
        messages(datagram),
        [Err(Error::Truncated { need: 16, have: 10 })]
    );
}

#[test]
fn message_len_below_header() {
    let datagram = msg_with_len(8, NLMSG_MIN_TYPE, 0, 1, &[0; 8]);
    assert_eq!(
        messages(&datagram),
        [Err(Error::BadMessageLength {
            claimed: 8,
            available: 24
        })]
    );
}

#[test]
fn message_len_zero_does_not_loop() {
    let datagram = msg_with_len(0, NLMSG_MIN_TYPE, 0, 1, &[]);
    assert_eq!(
        messages(&datagram),
        [Err(Error::BadMessageLength {
            claimed: 0,
            available: 16
        })]
    );
}

#[test]
fn message_len_past_datagram() {
    let datagram = msg_with_len(100, NLMSG_MIN_TYPE, 0, 1, &[0; 4]);
    assert_eq!(
        messages(&datagram),
        [Err(Error::BadMessageLength {
            claimed: 100,
            available: 20
        })]
    );
}

#[test]
fn message_len_u32_max() {
    let datagram = msg_with_len(u32::MAX, NLMSG_MIN_TYPE, 0, 1, &[0; 4]);
    assert_eq!(
        messages(&datagram),
        [Err(Error::BadMessageLength {
            claimed: u32::MAX,
            available: 20
        })]
    );
}

#[test]
fn second_message_lies_and_iteration_stops() {
    let good = msg(NLMSG_MIN_TYPE, 0, 1, &[1, 2, 3, 4]);
    let liar = msg_with_len(64, NLMSG_MIN_TYPE, 0, 2, &[]);
    let third = msg(NLMSG_MIN_TYPE, 0, 3, &[]);
    let datagram = cat(&[&good, &liar, &third]);
    let mut it = MessageIter::new(&datagram);
    assert_eq!(it.next().unwrap().unwrap().seq(), 1);
    assert_eq!(
        it.next(),
        Some(Err(Error::BadMessageLength {
            claimed: 64,
            available: 32
        }))
    );
    // Nothing after a lying length can be trusted: the third message is never yielded.
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}

#[test]
fn stray_bytes_after_last_message() {
    let datagram = cat(&[&msg(NLMSG_MIN_TYPE, 0, 1, &[]), &[0xaa; 7]]);
    let items = messages(&datagram);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(items[1], Err(Error::Truncated { need: 16, have: 7 }));
}

#[test]
fn unaligned_message_len_skips_padding() {
    // nlmsg_len 21 (not a multiple of 4): the next message starts at 24, as NLMSG_NEXT says.
    let first = pad(msg(NLMSG_MIN_TYPE, 0, 1, &[9, 9, 9, 9, 9]));
    let datagram = cat(&[&first, &msg(NLMSG_MIN_TYPE, 0, 2, &[])]);
    let seqs: Vec<u32> = messages(&datagram)
        .into_iter()
        .map(|m| m.unwrap().seq())
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(
        NlMsg::new_checked(&datagram).unwrap().payload(),
        [9, 9, 9, 9, 9]
    );
}

#[test]
fn last_message_without_its_padding_is_accepted() {
    // The kernel's nlmsg_ok accepts a final message whose padding is cut off.
    let datagram = msg(NLMSG_MIN_TYPE, 0, 1, &[7]);
    assert_eq!(datagram.len(), 17);
    let items = messages(&datagram);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].unwrap().payload(), [7]);
}

#[test]
fn genl_header_truncated() {
    let datagram = msg(NLMSG_MIN_TYPE + 1, 0, 1, &[3, 1]);
    let m = NlMsg::new_checked(&datagram).unwrap();
    assert_eq!(
        m.genl_header(),
        Err(Error::Truncated { need: 20, have: 18 })
    );
    assert_eq!(
        m.genl_attrs().map(|_| ()),
        Err(Error::Truncated { need: 20, have: 18 })
    );
}

#[test]
fn family_header_longer_than_payload() {
    // An rtnetlink message announcing an ifinfomsg (16 bytes) but carrying 8.
    let datagram = msg(16, 0, 1, &[0; 8]);
    let m = NlMsg::new_checked(&datagram).unwrap();
    assert_eq!(
        m.attrs(16).map(|_| ()),
        Err(Error::Truncated { need: 32, have: 24 })
    );
}

// --- nlattr -----------------------------------------------------------------------------------

#[test]
fn attr_len_below_header() {
    let buf = attr_with_len(2, 5, &[0, 0]);
    assert_eq!(
        attrs(&buf),
        [Err(Error::BadAttrLength {
            attr: 5,
            claimed: 2,
            available: 6
        })]
    );
}

#[test]
fn attr_len_zero_does_not_loop() {
    let buf = attr_with_len(0, 5, &[0; 12]);
    assert_eq!(
        attrs(&buf),
        [Err(Error::BadAttrLength {
            attr: 5,
            claimed: 0,
            available: 16
        })]
    );
}

#[test]
fn attr_len_past_container() {
    let buf = cat(&[&attr(1, &[1, 0, 0, 0]), &attr_with_len(200, 2, &[0; 4])]);
    let items = attrs(&buf);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].unwrap().get_u32(), Ok(1));
    assert_eq!(
        items[1],
        Err(Error::BadAttrLength {
            attr: 2,
            claimed: 200,
            available: 8
        })
    );
}

#[test]
fn attr_error_names_type_without_flag_bits() {
    let buf = attr_with_len(3, 7 | NLA_F_NESTED | NLA_F_NET_BYTEORDER, &[]);
    assert_eq!(
        attrs(&buf),
        [Err(Error::BadAttrLength {
            attr: 7,
            claimed: 3,
            available: 4
        })]
    );
}

#[test]
fn attr_stray_trailing_bytes() {
    let buf = cat(&[&attr(1, &[1, 2, 3, 4]), &[0xee, 0xee, 0xee]]);
    let items = attrs(&buf);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(items[1], Err(Error::TrailingBytes { len: 3 }));
}

#[test]
fn attr_iteration_stops_after_first_error() {
    let buf = cat(&[&attr_with_len(1, 1, &[0; 3]), &attr(2, &[0; 4])]);
    let mut it = AttrIter::new(&buf);
    assert!(matches!(it.next(), Some(Err(Error::BadAttrLength { .. }))));
    assert_eq!(it.next(), None);
}

#[test]
fn last_attr_without_its_padding_is_accepted() {
    let buf = attr_with_len(5, 1, &[42]);
    let items = attrs(&buf);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].unwrap().get_u8(), Ok(42));
}

#[test]
fn nested_attr_child_runs_past_its_nest() {
    // The nest claims 12 bytes; its child claims 16, which would reach into the sibling
    // that follows the nest. The child must be confined to the nest.
    let child = attr_with_len(16, 1, &[0; 4]);
    let nest = cat(&[&attr_with_len(12, 1 | NLA_F_NESTED, &[]), &child]);
    let buf = cat(&[&nest, &attr(2, &[0; 8])]);
    let outer: Vec<_> = attrs(&buf).into_iter().map(Result::unwrap).collect();
    assert_eq!(outer.len(), 2);
    assert_eq!(
        outer[0].nested().collect::<Vec<_>>(),
        [Err(Error::BadAttrLength {
            attr: 1,
            claimed: 16,
            available: 8
        })]
    );
}

#[test]
fn nested_attr_claims_more_than_its_message() {
    let nest = attr_with_len(40, 1 | NLA_F_NESTED, &attr(1, &[0; 4]));
    let datagram = msg(NLMSG_MIN_TYPE, 0, 1, &genl(1, &nest));
    let m = NlMsg::new_checked(&datagram).unwrap();
    assert_eq!(
        m.genl_attrs().unwrap().collect::<Vec<_>>(),
        [Err(Error::BadAttrLength {
            attr: 1,
            claimed: 40,
            available: 12
        })]
    );
}

// --- attribute values -------------------------------------------------------------------------

#[test]
fn string_without_nul() {
    let a = Attr::new(3, b"eth0");
    assert_eq!(a.get_str(), Err(Error::NotNulTerminated { attr: 3 }));
    assert_eq!(a.get_cstr_bytes(), Err(Error::NotNulTerminated { attr: 3 }));
}

#[test]
fn string_with_interior_nul() {
    let a = Attr::new(3, b"eth\x000\x00");
    assert_eq!(a.get_str(), Err(Error::NotNulTerminated { attr: 3 }));
}

#[test]
fn string_empty_value() {
    assert_eq!(
        Attr::new(3, b"").get_str(),
        Err(Error::NotNulTerminated { attr: 3 })
    );
    // A lone NUL is the empty string.
    assert_eq!(Attr::new(3, b"\0").get_str(), Ok(""));
}

#[test]
fn string_not_utf8() {
    assert_eq!(
        Attr::new(3, b"\xff\xfe\0").get_str(),
        Err(Error::NotUtf8 { attr: 3 })
    );
    assert_eq!(
        Attr::new(3, b"\xff\xfe\0").get_cstr_bytes(),
        Ok(&b"\xff\xfe"[..])
    );
}

#[test]
fn integer_of_wrong_width() {
    let two = Attr::new(4, &[1, 0]);
    assert_eq!(two.get_u32(), Err(Error::AttrSize { attr: 4, len: 2 }));
    assert_eq!(two.get_u8(), Err(Error::AttrSize { attr: 4, len: 2 }));
    assert_eq!(two.get_u64(), Err(Error::AttrSize { attr: 4, len: 2 }));
    assert_eq!(two.get_be32(), Err(Error::AttrSize { attr: 4, len: 2 }));
    assert_eq!(
        Attr::new(4, &[0; 8]).get_i32(),
        Err(Error::AttrSize { attr: 4, len: 8 })
    );
    assert_eq!(
        Attr::new(4, &[0; 3]).get_uint(),
        Err(Error::AttrSize { attr: 4, len: 3 })
    );
    assert_eq!(
        Attr::new(4, &[]).get_uint(),
        Err(Error::AttrSize { attr: 4, len: 0 })
    );
}

#[test]
fn flag_with_a_value() {
    assert_eq!(
        Attr::new(9, &[1]).get_flag(),
        Err(Error::AttrSize { attr: 9, len: 1 })
    );
}

// --- NLMSG_ERROR ------------------------------------------------------------------------------

/// A request header as a kernel would echo it.
fn request_header(len: u32) -> Vec<u8> {
    msg_with_len(len, NLMSG_MIN_TYPE, NLM_F_REQUEST | NLM_F_ACK, 9, &[])
}

#[test]
fn error_too_short_for_errno() {
    let datagram = msg(NLMSG_ERROR, 0, 1, &[0xea, 0xff]);
    assert_eq!(
        payload_of(&datagram),
        Err(Error::Truncated { need: 20, have: 18 })
    );
}

#[test]
fn error_without_echoed_header() {
    let datagram = msg(NLMSG_ERROR, 0, 1, &cat(&[&(-22i32).to_ne_bytes(), &[0; 8]]));
    assert_eq!(
        payload_of(&datagram),
        Err(Error::Truncated { need: 36, have: 28 })
    );
}

#[test]
fn uncapped_error_echoed_len_past_message() {
    // Not capped: the echoed header says the request was 64 bytes, only 16 are here.
    let body = cat(&[&(-22i32).to_ne_bytes(), &request_header(64)]);
    let datagram = msg(NLMSG_ERROR, 0, 1, &body);
    assert_eq!(
        payload_of(&datagram),
        Err(Error::BadMessageLength {
            claimed: 64,
            available: 16
        })
    );
}

#[test]
fn uncapped_error_echoed_len_below_header() {
    let body = cat(&[&(-22i32).to_ne_bytes(), &request_header(4)]);
    let datagram = msg(NLMSG_ERROR, 0, 1, &body);
    assert_eq!(
        payload_of(&datagram),
        Err(Error::BadMessageLength {
            claimed: 4,
            available: 16
        })
    );
}

#[test]
fn capped_error_echoed_len_is_the_original_request_length() {
    // Capped: the echoed header keeps the request's full length (here 1000) although only
    // the header came back. That is what the kernel does, not a lie: it must parse, and
    // the TLVs are found right after the 16 echoed bytes.
    let tlvs = attr(NLMSGERR_ATTR_MSG, b"no\0");
    let body = cat(&[&(-95i32).to_ne_bytes(), &request_header(1000), &tlvs]);
    let datagram = msg(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1, &body);
    let Ok(Payload::Error(err)) = payload_of(&datagram) else {
        panic!("a capped error parses");
    };
    assert_eq!(err.errno, 95);
    assert_eq!(err.request.len, 1000);
    assert_eq!(err.request_payload, None);
    assert_eq!(err.ext_ack.msg, Some("no"));
}

#[test]
fn ack_without_capped_flag_echoes_only_the_header() {
    // Kernels before NLM_F_CAPPED existed (< 4.12), and peers that are not the kernel, send
    // a success ACK with only the request header and no flag: "the payload of the request
    // is not echoed in messages reporting success" (intro.rst). The echoed nlmsg_len is the
    // whole request's, so it must not be taken as the length of what follows.
    let body = cat(&[&0i32.to_ne_bytes(), &request_header(36)]);
    let datagram = msg(NLMSG_ERROR, 0, 1, &body);
    let Ok(Payload::Ack(ack)) = payload_of(&datagram) else {
        panic!(
            "an uncapped success ACK parses: {:?}",
            payload_of(&datagram)
        );
    };
    assert_eq!(ack.request.len, 36);
    assert_eq!(ack.request.seq, 9);
    assert!(ack.ext_ack.is_empty());
}

#[test]
fn error_errno_i32_min_saturates() {
    let body = cat(&[&i32::MIN.to_ne_bytes(), &request_header(16)]);
    let datagram = msg(NLMSG_ERROR, NLM_F_CAPPED, 1, &body);
    let Ok(Payload::Error(err)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert_eq!(err.errno, i32::MAX);
}

fn capped_error_with_tlvs(tlvs: &[u8]) -> Vec<u8> {
    let body = cat(&[&(-22i32).to_ne_bytes(), &request_header(16), tlvs]);
    msg(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1, &body)
}

#[test]
fn ack_tlvs_with_lying_length() {
    let tlvs = cat(&[
        &attr(NLMSGERR_ATTR_MSG, b"bad\0"),
        &attr_with_len(99, NLMSGERR_ATTR_OFFS, &[0; 4]),
    ]);
    assert_eq!(
        payload_of(&capped_error_with_tlvs(&tlvs)),
        Err(Error::BadAttrLength {
            attr: NLMSGERR_ATTR_OFFS,
            claimed: 99,
            available: 8
        })
    );
}

#[test]
fn ack_tlvs_with_stray_bytes() {
    let tlvs = cat(&[&attr(NLMSGERR_ATTR_MSG, b"bad\0"), &[1, 2]]);
    assert_eq!(
        payload_of(&capped_error_with_tlvs(&tlvs)),
        Err(Error::TrailingBytes { len: 2 })
    );
}

#[test]
fn ack_tlvs_message_without_nul() {
    let tlvs = attr(NLMSGERR_ATTR_MSG, b"bad");
    assert_eq!(
        payload_of(&capped_error_with_tlvs(&tlvs)),
        Err(Error::NotNulTerminated {
            attr: NLMSGERR_ATTR_MSG
        })
    );
}

#[test]
fn ack_tlvs_offset_of_wrong_width() {
    let tlvs = attr(NLMSGERR_ATTR_OFFS, &[0, 1]);
    assert_eq!(
        payload_of(&capped_error_with_tlvs(&tlvs)),
        Err(Error::AttrSize {
            attr: NLMSGERR_ATTR_OFFS,
            len: 2
        })
    );
}

#[test]
fn ack_tlvs_miss_type_of_wrong_width() {
    let tlvs = attr(NLMSGERR_ATTR_MISS_TYPE, &[0; 8]);
    assert_eq!(
        payload_of(&capped_error_with_tlvs(&tlvs)),
        Err(Error::AttrSize {
            attr: NLMSGERR_ATTR_MISS_TYPE,
            len: 8
        })
    );
}

#[test]
fn ack_tlvs_flag_without_tlvs() {
    let datagram = capped_error_with_tlvs(&[]);
    let Ok(Payload::Error(err)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert!(err.ext_ack.is_empty());
}

#[test]
fn ack_tlvs_unknown_types_are_skipped() {
    let tlvs = cat(&[
        &attr(42, &[1, 2, 3]),
        &attr(NLMSGERR_ATTR_MISS_TYPE, &7u32.to_ne_bytes()),
        &attr(NLMSGERR_ATTR_MISS_NEST, &20u32.to_ne_bytes()),
        &attr(NLMSGERR_ATTR_COOKIE, &[0xc0, 0x0c]),
    ]);
    let datagram = capped_error_with_tlvs(&tlvs);
    let Ok(Payload::Error(err)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert_eq!(
        err.ext_ack,
        ExtAck {
            miss_type: Some(7),
            miss_nest: Some(20),
            cookie: Some(&[0xc0, 0x0c]),
            ..ExtAck::default()
        }
    );
}

#[test]
fn tlvs_without_ack_tlvs_flag_are_ignored() {
    let tlvs = attr_with_len(99, NLMSGERR_ATTR_MSG, &[]);
    let body = cat(&[&(-22i32).to_ne_bytes(), &request_header(16), &tlvs]);
    let datagram = msg(NLMSG_ERROR, NLM_F_CAPPED, 1, &body);
    let Ok(Payload::Error(err)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert!(err.ext_ack.is_empty());
}

// --- NLMSG_DONE -------------------------------------------------------------------------------

#[test]
fn done_too_short() {
    let datagram = msg(NLMSG_DONE, NLM_F_MULTI, 1, &[0, 0]);
    assert_eq!(
        payload_of(&datagram),
        Err(Error::Truncated { need: 20, have: 18 })
    );
}

#[test]
fn done_empty_is_success() {
    let datagram = msg(NLMSG_DONE, NLM_F_MULTI, 1, &[]);
    let Ok(Payload::Done(done)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert_eq!((done.errno, done.interrupted), (0, false));
}

#[test]
fn done_interrupted() {
    let datagram = msg(NLMSG_DONE, NLM_F_MULTI | NLM_F_DUMP_INTR, 1, &[0; 4]);
    let Ok(Payload::Done(done)) = payload_of(&datagram) else {
        panic!("parses");
    };
    assert!(done.interrupted);
}

#[test]
fn done_with_broken_tlvs() {
    let body = cat(&[
        &(-5i32).to_ne_bytes(),
        &attr_with_len(2, NLMSGERR_ATTR_MSG, &[]),
    ]);
    let datagram = msg(NLMSG_DONE, NLM_F_MULTI | NLM_F_ACK_TLVS, 1, &body);
    assert_eq!(
        payload_of(&datagram),
        Err(Error::BadAttrLength {
            attr: NLMSGERR_ATTR_MSG,
            claimed: 2,
            available: 4
        })
    );
}

#[test]
fn noop_and_overrun_are_recognised_whatever_they_carry() {
    assert_eq!(
        payload_of(&msg(NLMSG_NOOP, 0, 1, &[1, 2, 3])),
        Ok(Payload::Noop)
    );
    assert_eq!(
        payload_of(&msg(NLMSG_OVERRUN, 0, 1, &[])),
        Ok(Payload::Overrun)
    );
}

// --- policy -----------------------------------------------------------------------------------

const INNER: Policy<'static> = Policy::new(
    &[AttrPolicy::Unknown, AttrPolicy::U32, AttrPolicy::Flag],
    Validation::Strict,
);

const STRICT: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U8,
        AttrPolicy::U16,
        AttrPolicy::U32,
        AttrPolicy::U64,
        AttrPolicy::NulString { max_len: 4 },
        AttrPolicy::String { max_len: 4 },
        AttrPolicy::Binary {
            min_len: 2,
            max_len: 6,
        },
        AttrPolicy::Nested(&INNER),
        AttrPolicy::Flag,
        AttrPolicy::Reject,
        AttrPolicy::Uint,
        AttrPolicy::NestedArray(&INNER),
    ],
    Validation::Strict,
);

const LENIENT: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U8,
        AttrPolicy::U16,
        AttrPolicy::U32,
        AttrPolicy::U64,
        AttrPolicy::NulString { max_len: 4 },
        AttrPolicy::String { max_len: 4 },
        AttrPolicy::Binary {
            min_len: 2,
            max_len: 6,
        },
        AttrPolicy::Nested(&INNER),
        AttrPolicy::Flag,
        AttrPolicy::Reject,
        AttrPolicy::Uint,
        AttrPolicy::NestedArray(&INNER),
    ],
    Validation::Lenient,
);

fn validate(policy: &Policy<'_>, buf: &[u8]) -> Result<(), Error> {
    policy.validate(AttrIter::new(buf))
}

#[test]
fn policy_unknown_attr_strict_vs_lenient() {
    let buf = cat(&[&attr(30, &[1]), &attr(1, &[5])]);
    assert_eq!(
        validate(&STRICT, &buf),
        Err(Error::UnknownAttr { attr: 30 })
    );
    let table = LENIENT.parse::<16>(AttrIter::new(&buf)).unwrap();
    assert!(!table.contains(30));
    assert_eq!(table.require(1).unwrap().get_u8(), Ok(5));
}

#[test]
fn policy_type_zero_is_unknown() {
    assert_eq!(
        validate(&STRICT, &attr(0, &[])),
        Err(Error::UnknownAttr { attr: 0 })
    );
    assert_eq!(validate(&LENIENT, &attr(0, &[])), Ok(()));
}

#[test]
fn policy_reject_refuses_in_both_modes() {
    let buf = attr(10, &[]);
    assert_eq!(
        validate(&STRICT, &buf),
        Err(Error::UnknownAttr { attr: 10 })
    );
    assert_eq!(
        validate(&LENIENT, &buf),
        Err(Error::UnknownAttr { attr: 10 })
    );
}

#[test]
fn policy_integer_of_wrong_width() {
    for (kind, wrong) in [(1u16, 2u32), (2, 4), (3, 2), (4, 4), (11, 2), (11, 6)] {
        let buf = attr(kind, &vec![0; wrong as usize]);
        assert_eq!(
            validate(&LENIENT, &buf),
            Err(Error::AttrSize {
                attr: kind,
                len: wrong
            }),
            "type {kind}, {wrong} bytes"
        );
    }
    assert_eq!(validate(&LENIENT, &attr(11, &[0; 8])), Ok(()));
}

#[test]
fn policy_nul_string_without_nul() {
    assert_eq!(
        validate(&STRICT, &attr(5, b"abc")),
        Err(Error::NotNulTerminated { attr: 5 })
    );
}

#[test]
fn policy_nul_string_with_interior_nul() {
    assert_eq!(
        validate(&STRICT, &attr(5, b"a\0b\0")),
        Err(Error::NotNulTerminated { attr: 5 })
    );
}

#[test]
fn policy_nul_string_too_long() {
    assert_eq!(validate(&STRICT, &attr(5, b"abcd\0")), Ok(()));
    assert_eq!(
        validate(&STRICT, &attr(5, b"abcde\0")),
        Err(Error::AttrSize { attr: 5, len: 6 })
    );
}

#[test]
fn policy_string_nul_optional_but_length_capped() {
    assert_eq!(validate(&STRICT, &attr(6, b"abcd")), Ok(()));
    assert_eq!(validate(&STRICT, &attr(6, b"abcd\0")), Ok(()));
    assert_eq!(
        validate(&STRICT, &attr(6, b"abcde")),
        Err(Error::AttrSize { attr: 6, len: 5 })
    );
}

#[test]
fn policy_binary_outside_bounds() {
    assert_eq!(
        validate(&STRICT, &attr(7, &[1])),
        Err(Error::AttrSize { attr: 7, len: 1 })
    );
    assert_eq!(
        validate(&STRICT, &attr(7, &[1; 7])),
        Err(Error::AttrSize { attr: 7, len: 7 })
    );
    assert_eq!(validate(&STRICT, &attr(7, &[1; 6])), Ok(()));
}

#[test]
fn policy_flag_with_a_value() {
    assert_eq!(
        validate(&STRICT, &attr(9, &[0; 4])),
        Err(Error::AttrSize { attr: 9, len: 4 })
    );
}

#[test]
fn policy_nested_without_nested_flag() {
    let buf = attr(8, &attr(1, &[0; 4]));
    assert_eq!(validate(&STRICT, &buf), Err(Error::NestedFlag { attr: 8 }));
    assert_eq!(validate(&LENIENT, &buf), Ok(()));
}

#[test]
fn policy_nested_child_breaks_inner_policy() {
    let buf = attr(8 | NLA_F_NESTED, &attr(1, &[0; 2]));
    assert_eq!(
        validate(&STRICT, &buf),
        Err(Error::AttrSize { attr: 1, len: 2 })
    );
    // The inner policy is strict whatever the outer one says.
    let buf = attr(8 | NLA_F_NESTED, &attr(5, &[0; 4]));
    assert_eq!(
        validate(&LENIENT, &buf),
        Err(Error::UnknownAttr { attr: 5 })
    );
}

#[test]
fn policy_nested_lying_about_its_length() {
    let inner = attr_with_len(40, 1, &[0; 4]);
    let buf = attr(8 | NLA_F_NESTED, &inner);
    assert_eq!(
        validate(&STRICT, &buf),
        Err(Error::BadAttrLength {
            attr: 1,
            claimed: 40,
            available: 8
        })
    );
}

#[test]
fn policy_nested_array_entry_without_flag() {
    let entry = attr(1, &attr(1, &[0; 4]));
    let buf = attr(12 | NLA_F_NESTED, &entry);
    assert_eq!(validate(&STRICT, &buf), Err(Error::NestedFlag { attr: 1 }));
    assert_eq!(validate(&LENIENT, &buf), Ok(()));
}

#[test]
fn policy_nested_array_entry_breaks_policy() {
    let entry = attr(1 | NLA_F_NESTED, &attr(2, &[1]));
    let buf = attr(12 | NLA_F_NESTED, &entry);
    assert_eq!(
        validate(&LENIENT, &buf),
        Err(Error::AttrSize { attr: 2, len: 1 })
    );
}

/// A policy whose type 1 nests itself, as deep as the bytes go.
static RECURSIVE: Policy<'static> = Policy::new(
    &[AttrPolicy::Unknown, AttrPolicy::Nested(&RECURSIVE)],
    Validation::Strict,
);

/// `levels` nests of type 1, one inside the other, around an empty innermost one.
fn nest_bomb(levels: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    for _ in 0..levels {
        buf = attr(1 | NLA_F_NESTED, &buf);
    }
    buf
}

#[test]
fn policy_depth_bomb() {
    // nlcore follows MAX_DEPTH nested levels and refuses the next one. (The kernel's
    // MAX_POLICY_RECURSION_DEPTH, also 10, counts the top level too and so accepts one
    // nest fewer; nlcore is one level more permissive.)
    assert_eq!(validate(&RECURSIVE, &nest_bomb(MAX_DEPTH)), Ok(()));
    assert_eq!(
        validate(&RECURSIVE, &nest_bomb(MAX_DEPTH + 1)),
        Err(Error::TooDeep)
    );
    // The deepest bomb a 16-bit nla_len allows is refused the same way.
    assert_eq!(nest_bomb(16383).len(), 65532);
    assert_eq!(validate(&RECURSIVE, &nest_bomb(16383)), Err(Error::TooDeep));
    assert_eq!(validate(&RECURSIVE, &nest_bomb(1000)), Err(Error::TooDeep));
}

#[test]
fn policy_parse_keeps_last_repeated_attr() {
    let buf = cat(&[&attr(3, &1u32.to_ne_bytes()), &attr(3, &2u32.to_ne_bytes())]);
    let table = STRICT.parse::<13>(AttrIter::new(&buf)).unwrap();
    assert_eq!(table.require(3).unwrap().get_u32(), Ok(2));
    assert_eq!(table.require(4), Err(Error::MissingAttr { attr: 4 }));
}

// --- generic netlink controller replies ------------------------------------------------------

fn family_reply(attrs: &[u8]) -> Vec<u8> {
    msg(GENL_ID_CTRL, 0, 1, &genl(CTRL_CMD_NEWFAMILY, attrs))
}

fn family(datagram: &[u8]) -> Result<FamilyInfo<'_>, Error> {
    FamilyInfo::parse(NlMsg::new_checked(datagram)?)
}

#[test]
fn family_reply_from_another_family() {
    let datagram = msg(GENL_ID_CTRL + 1, 0, 1, &genl(1, &[]));
    assert_eq!(
        family(&datagram),
        Err(Error::UnexpectedType {
            nlmsg_type: GENL_ID_CTRL + 1
        })
    );
}

#[test]
fn family_reply_without_genl_header() {
    let datagram = msg(GENL_ID_CTRL, 0, 1, &[1]);
    assert_eq!(
        family(&datagram),
        Err(Error::Truncated { need: 20, have: 17 })
    );
}

#[test]
fn family_reply_missing_id() {
    let datagram = family_reply(&attr(CTRL_ATTR_FAMILY_NAME, b"x\0"));
    assert_eq!(
        family(&datagram),
        Err(Error::MissingAttr {
            attr: CTRL_ATTR_FAMILY_ID
        })
    );
}

#[test]
fn family_reply_missing_name() {
    let datagram = family_reply(&attr(CTRL_ATTR_FAMILY_ID, &20u16.to_ne_bytes()));
    assert_eq!(
        family(&datagram),
        Err(Error::MissingAttr {
            attr: CTRL_ATTR_FAMILY_NAME
        })
    );
}

#[test]
fn family_reply_id_of_wrong_width() {
    let datagram = family_reply(&cat(&[
        &attr(CTRL_ATTR_FAMILY_ID, &20u32.to_ne_bytes()),
        &attr(CTRL_ATTR_FAMILY_NAME, b"x\0"),
    ]));
    assert_eq!(
        family(&datagram),
        Err(Error::AttrSize {
            attr: CTRL_ATTR_FAMILY_ID,
            len: 4
        })
    );
}

#[test]
fn family_reply_name_too_long() {
    let datagram = family_reply(&cat(&[
        &attr(CTRL_ATTR_FAMILY_ID, &20u16.to_ne_bytes()),
        &attr(CTRL_ATTR_FAMILY_NAME, b"sixteen_bytes_xx\0"),
    ]));
    assert_eq!(
        family(&datagram),
        Err(Error::AttrSize {
            attr: CTRL_ATTR_FAMILY_NAME,
            len: 17
        })
    );
}

#[test]
fn family_reply_group_without_id() {
    let group = attr(1, &attr(CTRL_ATTR_MCAST_GRP_NAME, b"g\0"));
    let datagram = family_reply(&cat(&[
        &attr(CTRL_ATTR_FAMILY_ID, &20u16.to_ne_bytes()),
        &attr(CTRL_ATTR_FAMILY_NAME, b"x\0"),
        &attr(CTRL_ATTR_MCAST_GROUPS, &group),
    ]));
    let info = family(&datagram).unwrap();
    assert_eq!(
        info.mcast_groups().collect::<Vec<_>>(),
        [Err(Error::MissingAttr {
            attr: CTRL_ATTR_MCAST_GRP_ID
        })]
    );
    assert_eq!(
        info.mcast_group("g"),
        Err(Error::MissingAttr {
            attr: CTRL_ATTR_MCAST_GRP_ID
        })
    );
}

#[test]
fn family_reply_op_list_lying_about_its_length() {
    let ops = attr_with_len(60, CTRL_ATTR_OPS, &attr(1, &attr(1, &[3, 0, 0, 0])));
    let datagram = family_reply(&cat(&[
        &attr(CTRL_ATTR_FAMILY_ID, &20u16.to_ne_bytes()),
        &attr(CTRL_ATTR_FAMILY_NAME, b"x\0"),
        &ops,
    ]));
    assert_eq!(
        family(&datagram),
        Err(Error::BadAttrLength {
            attr: CTRL_ATTR_OPS,
            claimed: 60,
            available: 16
        })
    );
}

#[test]
fn family_reply_op_id_of_wrong_width() {
    let ops = attr(CTRL_ATTR_OPS, &attr(1, &attr(CTRL_ATTR_OP_ID, &[3, 0])));
    let datagram = family_reply(&cat(&[
        &attr(CTRL_ATTR_FAMILY_ID, &20u16.to_ne_bytes()),
        &attr(CTRL_ATTR_FAMILY_NAME, b"x\0"),
        &ops,
    ]));
    assert_eq!(
        family(&datagram),
        Err(Error::AttrSize {
            attr: CTRL_ATTR_OP_ID,
            len: 2
        })
    );
}

// --- builder misuse (regressions) ------------------------------------------------------------

#[test]
fn builder_nest_end_after_message_cancel() {
    // A nest handle that outlived its message (cancelled, then a new one written up to the
    // old nest's offset) used to index past the written bytes and panic.
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    b.genl_header(1, 1).unwrap();
    let stale = b.nest_start(1).unwrap();
    b.cancel();
    b.begin(NLMSG_MIN_TYPE, 0, 2, 0).unwrap();
    b.genl_header(1, 1).unwrap();
    assert_eq!(b.nest_end(stale), Err(Error::OutOfOrder));
    assert_eq!(b.finish(), Ok(20));
}

#[test]
fn builder_finish_after_nest_cancel_reached_into_previous_message() {
    // Cancelling a nest left open in an earlier message truncates below the current
    // message's start; finishing then used to underflow.
    let mut buf = [0u8; 64];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, 0, 1, 0).unwrap();
    let stale = b.nest_start(1).unwrap();
    b.finish().unwrap();
    b.begin(NLMSG_MIN_TYPE, 0, 2, 0).unwrap();
    b.nest_cancel(stale);
    assert_eq!(b.finish(), Err(Error::OutOfOrder));
}
