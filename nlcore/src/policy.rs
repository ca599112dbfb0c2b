//! Attribute validation in the spirit of the kernel's `struct nla_policy`.
//!
//! A [`Policy`] is a table indexed by attribute type, like the kernel's
//! `const struct nla_policy foo_policy[FOO_MAX + 1]`. [`Policy::parse`] validates a whole
//! attribute stream (nested ones too, to a bounded depth) and indexes it by type, as
//! `nla_parse` does; [`Policy::validate`] only checks.

use crate::wire::{Attr, AttrIter};
use crate::Error;

/// How far nested policies are followed, as the kernel's `MAX_POLICY_RECURSION_DEPTH`.
pub const MAX_DEPTH: usize = 10;

/// What an attribute of one type must look like.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum AttrPolicy<'p> {
    /// No policy: an unknown type. Rejected in [`Validation::Strict`], skipped otherwise.
    Unknown,
    /// Known but refused whatever it holds (`NLA_REJECT`).
    Reject,
    /// Exactly 1 byte (`NLA_U8` / `NLA_S8`).
    U8,
    /// Exactly 2 bytes (`NLA_U16` / `NLA_S16` / `NLA_BE16`).
    U16,
    /// Exactly 4 bytes (`NLA_U32` / `NLA_S32` / `NLA_BE32`).
    U32,
    /// Exactly 8 bytes (`NLA_U64` / `NLA_S64`).
    U64,
    /// 4 or 8 bytes (`NLA_UINT` / `NLA_SINT`).
    Uint,
    /// Empty (`NLA_FLAG`).
    Flag,
    /// Text of at most `max_len` bytes, with or without a trailing NUL (`NLA_STRING`);
    /// `max_len` 0 means no limit.
    String {
        /// Longest text, NUL excluded.
        max_len: u16,
    },
    /// Text of at most `max_len` bytes, NUL-terminated (`NLA_NUL_STRING`).
    NulString {
        /// Longest text, NUL excluded; 0 means no limit.
        max_len: u16,
    },
    /// Bytes of a length between `min_len` and `max_len` (0: no upper limit).
    Binary {
        /// Shortest value.
        min_len: u16,
        /// Longest value; 0 means no limit.
        max_len: u16,
    },
    /// Attributes inside, checked against their own policy (`NLA_NESTED`).
    Nested(&'p Policy<'p>),
    /// A list of nests, each checked against the policy (`NLA_NESTED_ARRAY`).
    NestedArray(&'p Policy<'p>),
}

/// What to do with attribute types the policy does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Validation {
    /// Reject them ([`Error::UnknownAttr`]), and reject nests without `NLA_F_NESTED`: what
    /// a kernel with strict checking does with new requests.
    Strict,
    /// Skip them, and accept nests with or without the flag: what a reader of replies from
    /// newer or older kernels should do.
    Lenient,
}

/// A validation table indexed by attribute type.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'p> {
    attrs: &'p [AttrPolicy<'p>],
    validation: Validation,
}

impl<'p> Policy<'p> {
    /// A policy for types `0 ..= attrs.len() - 1`; type 0 is usually `Unknown`.
    pub const fn new(attrs: &'p [AttrPolicy<'p>], validation: Validation) -> Self {
        Policy { attrs, validation }
    }

    /// The highest type the policy describes (the kernel's `maxtype`).
    pub fn max_type(&self) -> u16 {
        self.attrs.len().saturating_sub(1) as u16
    }

    /// The policy for one type (`Unknown` past the end).
    #[inline]
    pub fn get(&self, kind: u16) -> AttrPolicy<'p> {
        self.attrs
            .get(usize::from(kind))
            .copied()
            .unwrap_or(AttrPolicy::Unknown)
    }

    /// Checks every attribute in `attrs`, nested ones included.
    pub fn validate(&self, attrs: AttrIter<'_>) -> Result<(), Error> {
        self.walk(attrs, 0, |_| ())
    }

    /// Checks every attribute and indexes the known ones by type (the last of repeated
    /// types wins, as in `nla_parse`). Types at or above `N` are checked but not kept.
    #[inline]
    pub fn parse<'a, const N: usize>(
        &self,
        attrs: AttrIter<'a>,
    ) -> Result<AttrTable<'a, N>, Error> {
        let mut table = AttrTable::new();
        self.walk(attrs, 0, |attr| table.insert(attr))?;
        Ok(table)
    }

    #[inline]
    fn walk<'a>(
        &self,
        attrs: AttrIter<'a>,
        depth: usize,
        mut keep: impl FnMut(Attr<'a>),
    ) -> Result<(), Error> {
        for attr in attrs {
            let attr = attr?;
            if self.check(&attr, depth)? {
                keep(attr);
            }
        }
        Ok(())
    }

    /// Validates one attribute; `Ok(false)` means "unknown, skip it". Inlined into the walk
    /// so the common scalar checks cost a compare; nests go through the out-of-line
    /// [`check_nested`](Self::check_nested), which also breaks the walk/check recursion.
    #[inline(always)]
    fn check(&self, attr: &Attr<'_>, depth: usize) -> Result<bool, Error> {
        let kind = attr.kind();
        let len = attr.value().len();
        let size = |ok: bool| {
            if ok {
                Ok(true)
            } else {
                Err(Error::AttrSize { attr: kind, len })
            }
        };
        let strict = self.validation == Validation::Strict;
        match self.get(kind) {
            AttrPolicy::Unknown if strict => Err(Error::UnknownAttr { attr: kind }),
            AttrPolicy::Unknown => Ok(false),
            AttrPolicy::Reject => Err(Error::UnknownAttr { attr: kind }),
            AttrPolicy::U8 => size(len == 1),
            AttrPolicy::U16 => size(len == 2),
            AttrPolicy::U32 => size(len == 4),
            AttrPolicy::U64 => size(len == 8),
            AttrPolicy::Uint => size(len == 4 || len == 8),
            AttrPolicy::Flag => size(len == 0),
            AttrPolicy::String { max_len } => {
                let text = match attr.value().split_last() {
                    Some((0, text)) => text.len(),
                    _ => len,
                };
                size(max_len == 0 || text <= usize::from(max_len))
            }
            AttrPolicy::NulString { max_len } => {
                attr.get_cstr_bytes()?;
                size(max_len == 0 || len - 1 <= usize::from(max_len))
            }
            AttrPolicy::Binary { min_len, max_len } => {
                size(len >= usize::from(min_len) && (max_len == 0 || len <= usize::from(max_len)))
            }
            // The attribute goes by its parts, in registers: a reference would make the hot
            // loop keep every attribute in memory for the sake of this rare branch.
            AttrPolicy::Nested(inner) => self
                .check_nested(attr.raw_type(), attr.value(), inner, depth)
                .map(|()| true),
            AttrPolicy::NestedArray(inner) => self
                .check_nested_array(attr.raw_type(), attr.value(), inner, depth)
                .map(|()| true),
        }
    }

    #[inline(never)]
    fn check_nested(
        &self,
        raw_type: u16,
        value: &[u8],
        inner: &Policy<'_>,
        depth: usize,
    ) -> Result<(), Error> {
        let attr = &Attr::new(raw_type, value);
        self.check_nest_flag(attr)?;
        if depth >= MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        inner.walk(attr.nested(), depth + 1, |_| ())
    }

    #[inline(never)]
    fn check_nested_array(
        &self,
        raw_type: u16,
        value: &[u8],
        inner: &Policy<'_>,
        depth: usize,
    ) -> Result<(), Error> {
        let attr = &Attr::new(raw_type, value);
        self.check_nest_flag(attr)?;
        if depth + 1 >= MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        for entry in attr.nested() {
            let entry = entry?;
            self.check_nest_flag(&entry)?;
            inner.walk(entry.nested(), depth + 2, |_| ())?;
        }
        Ok(())
    }

    fn check_nest_flag(&self, attr: &Attr<'_>) -> Result<(), Error> {
        if self.validation == Validation::Strict && !attr.is_nested() {
            return Err(Error::NestedFlag { attr: attr.kind() });
        }
        Ok(())
    }
}

/// Validated attributes indexed by type, for types below `N`.
#[derive(Debug, Clone)]
pub struct AttrTable<'a, const N: usize> {
    slots: [Option<Attr<'a>>; N],
}

impl<'a, const N: usize> Default for AttrTable<'a, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const N: usize> AttrTable<'a, N> {
    /// An empty table.
    pub const fn new() -> Self {
        AttrTable { slots: [None; N] }
    }

    #[inline]
    fn insert(&mut self, attr: Attr<'a>) {
        if let Some(slot) = self.slots.get_mut(usize::from(attr.kind())) {
            *slot = Some(attr);
        }
    }

    /// The attribute of type `kind`, if it was present.
    #[inline]
    pub fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.slots.get(usize::from(kind)).copied().flatten()
    }

    /// The attribute of type `kind`, or [`Error::MissingAttr`].
    #[inline]
    pub fn require(&self, kind: u16) -> Result<Attr<'a>, Error> {
        self.get(kind).ok_or(Error::MissingAttr { attr: kind })
    }

    /// Whether an attribute of type `kind` was present.
    pub fn contains(&self, kind: u16) -> bool {
        self.get(kind).is_some()
    }
}
