//! A random attribute tree written with MsgBuilder into a buffer of random size: either it
//! fits and parses back to the same tree, or the builder says BufferFull / TooLong and the
//! bytes before the failed message are untouched.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use nlcore::consts::{NLA_F_NESTED, NLA_TYPE_MASK};
use nlcore::{AttrIter, Buffer, Error, MessageIter, MsgBuilder};

const MAX_DEPTH: usize = 8;

#[derive(Arbitrary, Debug)]
enum Value {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Be32(u32),
    Str(String),
    Bytes(Vec<u8>),
    Flag,
    Nest(Vec<(u16, Value)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    buf_len: u16,
    seq: u32,
    attrs: Vec<(u16, Value)>,
}

fn emit<B: Buffer>(
    b: &mut MsgBuilder<B>,
    attrs: &[(u16, Value)],
    depth: usize,
) -> Result<(), Error> {
    for (kind, value) in attrs {
        let kind = kind & NLA_TYPE_MASK;
        match value {
            Value::U8(v) => b.put_u8(kind, *v)?,
            Value::U16(v) => b.put_u16(kind, *v)?,
            Value::U32(v) => b.put_u32(kind, *v)?,
            Value::U64(v) => b.put_u64(kind, *v)?,
            Value::Be32(v) => b.put_be32(kind, *v)?,
            Value::Str(s) => match b.put_str(kind, s) {
                Err(Error::InteriorNul) => assert!(s.contains('\0')),
                other => other?,
            },
            Value::Bytes(v) => b.put_bytes(kind, v)?,
            Value::Flag => b.put_flag(kind)?,
            Value::Nest(inner) if depth < MAX_DEPTH => {
                let nest = b.nest_start(kind)?;
                match emit(b, inner, depth + 1) {
                    Ok(()) => b.nest_end(nest)?,
                    Err(e) => {
                        b.nest_cancel(nest);
                        return Err(e);
                    }
                }
            }
            Value::Nest(_) => {}
        }
    }
    Ok(())
}

/// Checks that `attrs` reads back as `expected` (skipping what `emit` skipped).
fn check(attrs: AttrIter<'_>, expected: &[(u16, Value)], depth: usize) {
    let mut it = attrs;
    for (kind, value) in expected {
        let kind = kind & NLA_TYPE_MASK;
        match value {
            Value::Nest(_) if depth >= MAX_DEPTH => continue,
            Value::Str(s) if s.contains('\0') => continue,
            _ => {}
        }
        let attr = it.next().expect("attribute present").expect("well formed");
        assert_eq!(attr.kind(), kind);
        match value {
            Value::U8(v) => assert_eq!(attr.get_u8(), Ok(*v)),
            Value::U16(v) => assert_eq!(attr.get_u16(), Ok(*v)),
            Value::U32(v) => assert_eq!(attr.get_u32(), Ok(*v)),
            Value::U64(v) => assert_eq!(attr.get_u64(), Ok(*v)),
            Value::Be32(v) => assert_eq!(attr.get_be32(), Ok(*v)),
            Value::Str(s) => assert_eq!(attr.get_str(), Ok(s.as_str())),
            Value::Bytes(v) => assert_eq!(attr.value(), &v[..]),
            Value::Flag => assert_eq!(attr.get_flag(), Ok(())),
            Value::Nest(inner) => {
                assert!(attr.raw_type() & NLA_F_NESTED != 0);
                check(attr.nested(), inner, depth + 1);
            }
        }
    }
    assert!(it.next().is_none(), "no extra attributes");
}

fuzz_target!(|input: Input| {
    let mut storage = vec![0u8; usize::from(input.buf_len)];
    let mut b = MsgBuilder::new(&mut storage);
    // A first, small message that must survive whatever happens to the second.
    let first = b.begin(0x10, 1, input.seq, 0).and_then(|()| b.finish());
    let before = b.as_bytes().to_vec();
    let second = b
        .begin(0x11, 1, input.seq.wrapping_add(1), 0)
        .and_then(|()| b.genl_header(1, 1))
        .and_then(|()| emit(&mut b, &input.attrs, 0))
        .and_then(|()| b.finish());
    match second {
        Ok(len) => {
            let msgs: Vec<_> = MessageIter::new(b.as_bytes()).map(Result::unwrap).collect();
            assert_eq!(msgs.len(), 2);
            assert_eq!(msgs[1].bytes().len(), len);
            check(msgs[1].genl_attrs().unwrap(), &input.attrs, 0);
        }
        Err(e) => {
            assert!(
                matches!(e, Error::BufferFull { .. } | Error::TooLong),
                "{e:?}"
            );
            b.cancel();
            assert_eq!(
                b.as_bytes(),
                &before[..],
                "a failed message leaves no trace"
            );
            if first.is_ok() {
                assert_eq!(MessageIter::new(b.as_bytes()).count(), 1);
            }
        }
    }
});
