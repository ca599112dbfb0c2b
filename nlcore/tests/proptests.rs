//! Property tests: attribute trees and batches round-trip through the builder and the
//! parsers; random and mutated bytes never panic any parser; a full buffer never yields a
//! partial message passed off as complete.

mod common;

use nlcore::consts::*;
use nlcore::genl::FamilyInfo;
use nlcore::{
    Attr, AttrIter, AttrPolicy, Buffer, Error, ExtAck, MessageIter, MsgBuilder, NlMsg, Payload,
    Policy, Validation,
};
use proptest::prelude::*;

// --- attribute trees ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Value {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Be16(u16),
    Be32(u32),
    Be64(u64),
    Str(String),
    Bytes(Vec<u8>),
    Flag,
    Nest(Vec<(u16, Value)>),
}

/// Attribute types without the two flag bits.
fn kind() -> impl Strategy<Value = u16> {
    0..=NLA_TYPE_MASK
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        any::<i8>().prop_map(Value::I8),
        any::<i16>().prop_map(Value::I16),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        any::<u16>().prop_map(Value::Be16),
        any::<u32>().prop_map(Value::Be32),
        any::<u64>().prop_map(Value::Be64),
        "[^\u{0}]{0,24}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        Just(Value::Flag),
    ]
}

/// Trees up to 4 levels of nests, up to 8 attributes per level.
fn tree() -> impl Strategy<Value = Vec<(u16, Value)>> {
    let value = leaf().prop_recursive(4, 64, 8, |inner| {
        prop::collection::vec((kind(), inner), 0..8).prop_map(Value::Nest)
    });
    prop::collection::vec((kind(), value), 0..12)
}

fn emit<B: Buffer>(b: &mut MsgBuilder<B>, attrs: &[(u16, Value)]) -> Result<(), Error> {
    for (kind, value) in attrs {
        let kind = *kind;
        match value {
            Value::U8(v) => b.put_u8(kind, *v)?,
            Value::U16(v) => b.put_u16(kind, *v)?,
            Value::U32(v) => b.put_u32(kind, *v)?,
            Value::U64(v) => b.put_u64(kind, *v)?,
            Value::I8(v) => b.put_i8(kind, *v)?,
            Value::I16(v) => b.put_i16(kind, *v)?,
            Value::I32(v) => b.put_i32(kind, *v)?,
            Value::I64(v) => b.put_i64(kind, *v)?,
            Value::Be16(v) => b.put_be16(kind, *v)?,
            Value::Be32(v) => b.put_be32(kind, *v)?,
            Value::Be64(v) => b.put_be64(kind, *v)?,
            Value::Str(s) => b.put_str(kind, s)?,
            Value::Bytes(v) => b.put_bytes(kind, v)?,
            Value::Flag => b.put_flag(kind)?,
            Value::Nest(inner) => {
                let nest = b.nest_start(kind)?;
                emit(b, inner)?;
                b.nest_end(nest)?;
            }
        }
    }
    Ok(())
}

/// The same tree written by hand (tests/common), independently of the builder.
fn encode_by_hand(attrs: &[(u16, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, value) in attrs {
        let (raw_type, bytes) = match value {
            Value::U8(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::U16(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::U32(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::U64(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::I8(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::I16(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::I32(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::I64(v) => (*kind, v.to_ne_bytes().to_vec()),
            Value::Be16(v) => (*kind, v.to_be_bytes().to_vec()),
            Value::Be32(v) => (*kind, v.to_be_bytes().to_vec()),
            Value::Be64(v) => (*kind, v.to_be_bytes().to_vec()),
            Value::Str(s) => (*kind, [s.as_bytes(), &[0]].concat()),
            Value::Bytes(v) => (*kind, v.clone()),
            Value::Flag => (*kind, Vec::new()),
            Value::Nest(inner) => (*kind | NLA_F_NESTED, encode_by_hand(inner)),
        };
        out.extend_from_slice(&common::attr(raw_type, &bytes));
    }
    out
}

/// Reads `attrs` back and compares with the tree, attribute by attribute.
fn check_tree(attrs: AttrIter<'_>, expected: &[(u16, Value)]) -> Result<(), TestCaseError> {
    let got: Vec<Attr> = attrs.map(|a| a.expect("well formed")).collect();
    prop_assert_eq!(got.len(), expected.len());
    for (attr, (kind, value)) in got.iter().zip(expected) {
        prop_assert_eq!(attr.kind(), *kind);
        prop_assert_eq!(attr.is_nested(), matches!(value, Value::Nest(_)));
        match value {
            Value::U8(v) => prop_assert_eq!(attr.get_u8(), Ok(*v)),
            Value::U16(v) => prop_assert_eq!(attr.get_u16(), Ok(*v)),
            Value::U32(v) => prop_assert_eq!(attr.get_u32(), Ok(*v)),
            Value::U64(v) => prop_assert_eq!(attr.get_u64(), Ok(*v)),
            Value::I8(v) => prop_assert_eq!(attr.get_i8(), Ok(*v)),
            Value::I16(v) => prop_assert_eq!(attr.get_i16(), Ok(*v)),
            Value::I32(v) => prop_assert_eq!(attr.get_i32(), Ok(*v)),
            Value::I64(v) => prop_assert_eq!(attr.get_i64(), Ok(*v)),
            Value::Be16(v) => prop_assert_eq!(attr.get_be16(), Ok(*v)),
            Value::Be32(v) => prop_assert_eq!(attr.get_be32(), Ok(*v)),
            Value::Be64(v) => prop_assert_eq!(attr.get_be64(), Ok(*v)),
            Value::Str(s) => prop_assert_eq!(attr.get_str(), Ok(s.as_str())),
            Value::Bytes(v) => prop_assert_eq!(attr.value(), &v[..]),
            Value::Flag => prop_assert_eq!(attr.get_flag(), Ok(())),
            Value::Nest(inner) => check_tree(attr.nested(), inner)?,
        }
    }
    Ok(())
}

/// One message holding `attrs` after a genl header, written into a 64 KiB slice.
fn build_message(seq: u32, attrs: &[(u16, Value)]) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; 1 << 16];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(NLMSG_MIN_TYPE, NLM_F_REQUEST, seq, 0)?;
    b.genl_header(1, 1)?;
    emit(&mut b, attrs)?;
    b.finish()?;
    Ok(b.as_bytes().to_vec())
}

// --- a policy for random validation -------------------------------------------------------

static INNER: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U32,
        AttrPolicy::NulString { max_len: 15 },
        AttrPolicy::Nested(&INNER),
        AttrPolicy::Flag,
    ],
    Validation::Strict,
);

fn policy(validation: Validation) -> Policy<'static> {
    const ATTRS: &[AttrPolicy<'static>] = &[
        AttrPolicy::Unknown,
        AttrPolicy::U8,
        AttrPolicy::U16,
        AttrPolicy::U32,
        AttrPolicy::U64,
        AttrPolicy::String { max_len: 8 },
        AttrPolicy::NulString { max_len: 0 },
        AttrPolicy::Binary {
            min_len: 2,
            max_len: 16,
        },
        AttrPolicy::Flag,
        AttrPolicy::Nested(&INNER),
        AttrPolicy::NestedArray(&INNER),
        AttrPolicy::Reject,
        AttrPolicy::Uint,
    ];
    Policy::new(ATTRS, validation)
}

/// Runs every parser over `bytes`; the point is that none of them panics.
fn parse_everything(bytes: &[u8]) {
    for msg in MessageIter::new(bytes) {
        let Ok(msg) = msg else { break };
        let _ = Payload::parse(msg);
        let _ = FamilyInfo::parse(msg).map(|info| {
            info.ops().count()
                + info.mcast_groups().count()
                + info.mcast_group("x").is_ok() as usize
        });
        if let Ok(attrs) = msg.genl_attrs() {
            let _ = policy(Validation::Strict).validate(attrs.clone());
            let _ = policy(Validation::Lenient).parse::<13>(attrs);
        }
    }
    for attrs in [AttrIter::new(bytes)] {
        let _ = policy(Validation::Strict).parse::<13>(attrs.clone());
        let _ = policy(Validation::Lenient).validate(attrs.clone());
        for attr in attrs.map_while(Result::ok) {
            let _ = (attr.get_str(), attr.get_uint(), attr.nested().count());
        }
    }
    let _ = ExtAck::parse(bytes);
}

/// Reads every value of a one-pass [`nlcore::Values`], nests included: how many, or the
/// first error.
fn drain(values: nlcore::Values<'_, '_>) -> Result<usize, Error> {
    let mut count = 0;
    for item in values {
        count += 1;
        if let (_, nlcore::Value::Nested(inner) | nlcore::Value::NestedArray(inner)) = item? {
            count += drain(inner)?;
        }
    }
    Ok(count)
}

/// Policy::values, read to the end, must judge `bytes` exactly as Policy::validate does.
fn values_agree_with_validate(bytes: &[u8]) -> Result<(), TestCaseError> {
    for validation in [Validation::Strict, Validation::Lenient] {
        let p = policy(validation);
        prop_assert_eq!(
            drain(p.values(AttrIter::new(bytes))).map(|_| ()),
            p.validate(AttrIter::new(bytes)),
            "{:?}",
            validation
        );
    }
    Ok(())
}

const GOLDEN: &[&[u8]] = &[
    include_bytes!("golden/ctrl_getfamily_nlctrl-0.bin"),
    include_bytes!("golden/ctrl_getfamily_nlctrl-1.bin"),
    include_bytes!("golden/ctrl_dump_families-0.bin"),
    include_bytes!("golden/ctrl_getfamily_enoent-0.bin"),
    include_bytes!("golden/rtm_getlink_strict_done_error-0.bin"),
    include_bytes!("golden/rtm_getlink_long_name_error-0.bin"),
    include_bytes!("golden/rtm_getlink_long_name_capped-0.bin"),
    include_bytes!("golden/rtm_getlink_lo_ack-0.bin"),
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite one byte.
    Set(usize, u8),
    /// Overwrite a 16-bit field (lengths, types, flags).
    Set16(usize, u16),
    /// Cut the datagram short.
    Truncate(usize),
    /// Insert a byte.
    Insert(usize, u8),
    /// Remove a byte.
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Mutation::Set16(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let at = |i: usize| i % bytes.len();
    match *m {
        Mutation::Set(i, b) => {
            let i = at(i);
            bytes[i] = b;
        }
        Mutation::Set16(i, v) => {
            // At an even offset, where netlink's 16-bit fields live.
            let i = at(i) & !1;
            if i + 2 <= bytes.len() {
                bytes[i..i + 2].copy_from_slice(&v.to_ne_bytes());
            }
        }
        Mutation::Truncate(i) => bytes.truncate(at(i)),
        Mutation::Insert(i, b) => {
            let i = at(i);
            bytes.insert(i, b);
        }
        Mutation::Remove(i) => {
            let i = at(i);
            bytes.remove(i);
        }
    }
}

/// One random builder call, for sequences that exercise every order (including misuse).
#[derive(Debug, Clone)]
enum Op {
    Begin(u16, u32),
    Genl(u8),
    U32(u16, u32),
    Str(u16, String),
    Bytes(u16, Vec<u8>),
    NestStart(u16),
    NestEnd(usize),
    NestCancel(usize),
    Finish,
    Cancel,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(t, s)| Op::Begin(t, s)),
        any::<u8>().prop_map(Op::Genl),
        (kind(), any::<u32>()).prop_map(|(k, v)| Op::U32(k, v)),
        (kind(), ".{0,8}").prop_map(|(k, s)| Op::Str(k, s)),
        (kind(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(k, v)| Op::Bytes(k, v)),
        kind().prop_map(Op::NestStart),
        any::<usize>().prop_map(Op::NestEnd),
        any::<usize>().prop_map(Op::NestCancel),
        Just(Op::Finish),
        Just(Op::Cancel),
        Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tree_round_trips(seq in any::<u32>(), attrs in tree()) {
        let bytes = build_message(seq, &attrs).unwrap();
        let msg = NlMsg::new_checked(&bytes).unwrap();
        prop_assert_eq!(msg.bytes().len(), bytes.len());
        prop_assert_eq!(msg.seq(), seq);
        prop_assert_eq!(msg.genl_header().unwrap().cmd, 1);
        check_tree(msg.genl_attrs().unwrap(), &attrs)?;
    }

    #[test]
    fn builder_writes_what_a_hand_encoder_writes(attrs in tree()) {
        let bytes = build_message(1, &attrs).unwrap();
        let by_hand = common::msg(NLMSG_MIN_TYPE, NLM_F_REQUEST, 1, &common::genl(1, &encode_by_hand(&attrs)));
        prop_assert_eq!(bytes, by_hand);
    }

    #[test]
    fn heapless_buffer_writes_the_same_bytes(attrs in tree()) {
        let mut vec = heapless::Vec::<u8, 65536>::new();
        let mut b = MsgBuilder::new_in(&mut vec);
        b.begin(NLMSG_MIN_TYPE, NLM_F_REQUEST, 1, 0).unwrap();
        b.genl_header(1, 1).unwrap();
        emit(&mut b, &attrs).unwrap();
        b.finish().unwrap();
        prop_assert_eq!(vec.as_slice(), &build_message(1, &attrs).unwrap()[..]);
    }

    #[test]
    fn batch_round_trips(batch in prop::collection::vec(
        (NLMSG_MIN_TYPE..=u16::MAX, any::<u16>(), any::<u32>(), any::<u32>(), tree()), 1..6)
    ) {
        let mut buf = vec![0u8; 1 << 18];
        let mut b = MsgBuilder::new(&mut buf);
        let mut lens = Vec::new();
        for (ty, flags, seq, pid, attrs) in &batch {
            b.begin(*ty, *flags, *seq, *pid).unwrap();
            b.genl_header(2, 1).unwrap();
            emit(&mut b, attrs).unwrap();
            lens.push(b.finish().unwrap());
        }
        let msgs: Vec<NlMsg> = MessageIter::new(b.as_bytes()).map(Result::unwrap).collect();
        prop_assert_eq!(msgs.len(), batch.len());
        for ((msg, (ty, flags, seq, pid, attrs)), len) in msgs.iter().zip(&batch).zip(&lens) {
            let h = msg.header();
            prop_assert_eq!((h.ty, h.flags, h.seq, h.pid), (*ty, *flags, *seq, *pid));
            prop_assert_eq!(h.len as usize, *len);
            prop_assert_eq!(msg.bytes().as_ptr() as usize % 4, b.as_bytes().as_ptr() as usize % 4);
            check_tree(msg.genl_attrs().unwrap(), attrs)?;
        }
    }

    #[test]
    fn too_small_buffer_is_buffer_full_never_partial(attrs in tree(), cut in any::<prop::sample::Index>()) {
        let full = build_message(7, &attrs).unwrap();
        // A finished message already in the buffer must survive the failure untouched.
        let first = common::msg(NLMSG_MIN_TYPE, 0, 6, &[]);
        let size = first.len() + cut.index(full.len());
        let mut buf = vec![0xa5u8; size];
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(NLMSG_MIN_TYPE, 0, 6, 0).unwrap();
        b.finish().unwrap();
        let result = b.begin(NLMSG_MIN_TYPE, NLM_F_REQUEST, 7, 0)
            .and_then(|()| b.genl_header(1, 1))
            .and_then(|()| emit(&mut b, &attrs))
            .and_then(|()| b.finish());
        let Err(Error::BufferFull { need, free }) = result else {
            return Err(TestCaseError::fail(format!("{} bytes cannot hold {}: {result:?}", size - first.len(), full.len())));
        };
        prop_assert!(need > u32::from(free));
        prop_assert!(b.len() <= size);
        prop_assert!(b.in_message() || b.len() == first.len(), "no finished partial message");
        b.cancel();
        prop_assert_eq!(b.as_bytes(), &first[..]);
        // What is left parses as exactly the first message.
        prop_assert_eq!(MessageIter::new(b.as_bytes()).count(), 1);
    }

    #[test]
    fn exact_buffer_is_enough(attrs in tree()) {
        let full = build_message(7, &attrs).unwrap();
        let mut buf = vec![0u8; full.len()];
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(NLMSG_MIN_TYPE, NLM_F_REQUEST, 7, 0).unwrap();
        b.genl_header(1, 1).unwrap();
        emit(&mut b, &attrs).unwrap();
        prop_assert_eq!(b.finish(), Ok(full.len()));
        prop_assert_eq!(b.as_bytes(), &full[..]);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        ty in prop_oneof![Just(NLMSG_ERROR), Just(NLMSG_DONE), Just(GENL_ID_CTRL), any::<u16>()],
        flags in any::<u16>(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let datagram = common::msg(ty, flags, 1, &body);
        parse_everything(&datagram);
        let msg = NlMsg::new_checked(&datagram).unwrap();
        // An uncapped error that parses echoes exactly the length its header claims.
        if let Ok(Payload::Error(err)) = Payload::parse(msg) {
            if let Some(echoed) = err.request_payload {
                prop_assert_eq!(echoed.len() + NLMSG_HDRLEN, err.request.len as usize);
            }
        }
    }

    #[test]
    fn mutated_golden_datagrams_never_panic(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut bytes = which.get(GOLDEN).to_vec();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        parse_everything(&bytes);
        // Attribute streams from inside the messages, mutated the same way.
        if bytes.len() > 20 {
            parse_everything(&bytes[20..]);
        }
    }

    #[test]
    fn iterators_cover_the_input_in_order(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        // Every message / attribute yielded lies inside the input, after the previous one.
        let mut end = 0usize;
        let base = bytes.as_ptr() as usize;
        for msg in MessageIter::new(&bytes).map_while(Result::ok) {
            let start = msg.bytes().as_ptr() as usize - base;
            prop_assert!(start >= end && start.is_multiple_of(4));
            end = start + msg.bytes().len();
            prop_assert!(end <= bytes.len());
        }
        let mut end = 0usize;
        for attr in AttrIter::new(&bytes).map_while(Result::ok) {
            let start = attr.value().as_ptr() as usize - base;
            prop_assert!(start >= end + 4);
            end = start + attr.value().len();
            prop_assert!(end <= bytes.len());
        }
    }

    #[test]
    fn strict_acceptance_implies_lenient_acceptance(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if policy(Validation::Strict).validate(AttrIter::new(&bytes)).is_ok() {
            prop_assert_eq!(policy(Validation::Lenient).validate(AttrIter::new(&bytes)), Ok(()));
        }
    }

    #[test]
    fn values_iterator_agrees_with_validate_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        values_agree_with_validate(&bytes)?;
    }

    #[test]
    fn values_iterator_agrees_with_validate_on_mutated_attributes(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 0..6),
    ) {
        // The attribute streams of the golden messages (after nlmsghdr + genlmsghdr or
        // ifinfomsg), mutated.
        let datagram = which.get(GOLDEN);
        let start = if datagram.len() > 1000 { 32 } else { 20 };
        let mut bytes = datagram[start.min(datagram.len())..].to_vec();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        values_agree_with_validate(&bytes)?;
    }

    #[test]
    fn cstr_matches_a_naive_check(value in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..80)) {
        let naive = match value.split_last() {
            Some((0, text)) if !text.contains(&0) => Ok(text),
            _ => Err(Error::NotNulTerminated { attr: 1 }),
        };
        prop_assert_eq!(Attr::new(1, &value).get_cstr_bytes(), naive);
    }

    #[test]
    fn random_builder_calls_never_panic(ops in prop::collection::vec(op(), 0..40), size in 0usize..600) {
        let mut buf = vec![0u8; size];
        let mut b = MsgBuilder::new(&mut buf);
        let mut nests = Vec::new();
        for op in ops {
            let _ = match op {
                Op::Begin(ty, seq) => b.begin(ty, 0, seq, 0),
                Op::Genl(cmd) => b.genl_header(cmd, 1),
                Op::U32(k, v) => b.put_u32(k, v),
                Op::Str(k, s) => b.put_str(k, &s),
                Op::Bytes(k, v) => b.put_bytes(k, &v),
                Op::NestStart(k) => b.nest_start(k).map(|n| nests.push(n)),
                Op::NestEnd(i) if !nests.is_empty() => {
                    let n = nests.remove(i % nests.len());
                    b.nest_end(n)
                }
                Op::NestCancel(i) if !nests.is_empty() => {
                    let n = nests.remove(i % nests.len());
                    b.nest_cancel(n);
                    Ok(())
                }
                Op::NestEnd(_) | Op::NestCancel(_) => Ok(()),
                Op::Finish => b.finish().map(|len| {
                    // A finished message is whole: its header claims exactly what is there.
                    let bytes = b.as_bytes();
                    let msg = &bytes[bytes.len() - len..];
                    assert_eq!(NlMsg::new_checked(msg).map(|m| m.bytes().len()), Ok(len));
                }),
                Op::Cancel => {
                    b.cancel();
                    Ok(())
                }
                Op::Clear => {
                    b.clear();
                    Ok(())
                }
            };
            prop_assert!(b.len() <= size);
        }
    }
}
