//! An attribute stream, walked raw and validated against a nested policy in both modes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nlcore::{AttrIter, AttrPolicy, Error, Policy, Validation, Value, Values};

/// Depth of the raw walk (the policy walk has its own limit).
const RAW_DEPTH: usize = 12;

static INNER: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U32,
        AttrPolicy::NulString { max_len: 15 },
        AttrPolicy::Nested(&INNER),
        AttrPolicy::Flag,
        AttrPolicy::Uint,
    ],
    Validation::Strict,
);

/// The same table twice, one per mode: strict acceptance must imply lenient acceptance.
macro_rules! outer {
    ($mode:expr) => {
        Policy::new(
            &[
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
            ],
            $mode,
        )
    };
}
static STRICT: Policy<'static> = outer!(Validation::Strict);
static LENIENT: Policy<'static> = outer!(Validation::Lenient);

fn walk(attrs: AttrIter<'_>, depth: usize) {
    for attr in attrs {
        let Ok(attr) = attr else { return };
        assert!(attr.value().len() <= u16::MAX as usize - 4);
        let _ = (
            attr.get_u8(),
            attr.get_u16(),
            attr.get_u32(),
            attr.get_u64(),
        );
        let _ = (
            attr.get_be16(),
            attr.get_be32(),
            attr.get_uint(),
            attr.get_flag(),
        );
        if let Ok(text) = attr.get_cstr_bytes() {
            assert!(!text.contains(&0));
            assert_eq!(text.len() + 1, attr.value().len());
        }
        let _ = attr.get_str();
        if depth < RAW_DEPTH {
            walk(attr.nested(), depth + 1);
        }
    }
}

/// Reads a one-pass `Values` to the end, nests included.
fn drain(values: Values<'_, '_>) -> Result<(), Error> {
    for item in values {
        if let (_, Value::Nested(inner) | Value::NestedArray(inner)) = item? {
            drain(inner)?;
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    walk(AttrIter::new(data), 0);
    let strict = STRICT.validate(AttrIter::new(data));
    let lenient = LENIENT.validate(AttrIter::new(data));
    if strict.is_ok() {
        assert_eq!(lenient, Ok(()), "strict accepted what lenient refused");
    }
    if let Ok(table) = LENIENT.parse::<13>(AttrIter::new(data)) {
        for kind in 0..13 {
            if let Some(attr) = table.get(kind) {
                assert_eq!(attr.kind(), kind);
            }
        }
    }
    assert_eq!(
        STRICT.parse::<13>(AttrIter::new(data)).map(|_| ()),
        strict,
        "parse and validate disagree"
    );
    assert_eq!(
        drain(STRICT.values(AttrIter::new(data))),
        strict,
        "values (strict)"
    );
    assert_eq!(
        drain(LENIENT.values(AttrIter::new(data))),
        lenient,
        "values (lenient)"
    );
});
