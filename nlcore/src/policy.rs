//! Attribute validation in the spirit of the kernel's `struct nla_policy`.
//!
//! A [`Policy`] is a table indexed by attribute type, like the kernel's
//! `const struct nla_policy foo_policy[FOO_MAX + 1]`. [`Policy::parse`] validates a whole
//! attribute stream (nested ones too, to a bounded depth) and indexes it by type, as
//! `nla_parse` does; [`Policy::validate`] only checks; [`Policy::values`] checks each
//! attribute as an iterator reaches it and hands over its typed [`Value`], for decoders
//! that read everything in one pass.
//!
//! [`attr_set!`](crate::attr_set) declares a struct for an attribute set known when the
//! program is written, with a parser that is a `match` on the type (as the kernel's
//! generated YNL parsers are): each arm runs the same rule function,
//! [`AttrPolicy::with_value`], with its type's policy known to the compiler, which folds
//! the rule to its few checks. Prefer it for reading whole messages on a hot path (the
//! codec benchmark's decode is 868 instructions per message through [`Policy::values`],
//! 599 through `attr_set!`); use a [`Policy`] when the rules are data, for validation only,
//! for lookups by type, or for what `attr_set!` does not take (flags, nested arrays,
//! length limits, `NLA_REJECT`).

use crate::error::count;
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

impl<'p> AttrPolicy<'p> {
    /// Validates one attribute (of `depth` nests down, read under `validation`) and hands
    /// its value, read as the policy describes it, to `then`; `Ok(None)` means "unknown,
    /// skipped". A nest is checked here (flag, depth), its contents by whoever iterates the
    /// [`Values`] it hands over.
    ///
    /// The one place the rules live: [`Policy`] calls it with the policy it looked up,
    /// [`attr_set!`](crate::attr_set) with the policy of a type known at compile time.
    /// `then` is called in each arm, on a value whose variant is known there: inlined, a
    /// caller's own match on the variant is folded into the arm (for `validate`, to
    /// nothing) rather than run as a second dispatch.
    #[inline(always)]
    pub fn with_value<'a, R>(
        self,
        attr: &Attr<'a>,
        depth: usize,
        validation: Validation,
        then: impl FnOnce(Value<'a, 'p>) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        self.apply::<R, true>(attr, depth, validation, then)
    }

    /// [`with_value`](Self::with_value), with the NUL scan of `NulString` inlined
    /// (`INLINE_SCAN`: for decoders, the per-type arms of `attr_set!` above all, where a
    /// call costs the most) or called (for [`Policy::validate`]'s one loop over every kind,
    /// which then carries no copy of it).
    #[inline(always)]
    fn apply<'a, R, const INLINE_SCAN: bool>(
        self,
        attr: &Attr<'a>,
        depth: usize,
        validation: Validation,
        then: impl FnOnce(Value<'a, 'p>) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        let kind = attr.kind();
        let bytes = attr.value();
        let len = bytes.len();
        let size_error = Error::AttrSize {
            attr: kind,
            len: count(len),
        };
        let strict = validation == Validation::Strict;
        let value = match self {
            AttrPolicy::Unknown if strict => return Err(Error::UnknownAttr { attr: kind }),
            AttrPolicy::Unknown => return Ok(None),
            AttrPolicy::Reject => return Err(Error::UnknownAttr { attr: kind }),
            AttrPolicy::U8 => then(Value::U8(attr.get_u8()?)),
            AttrPolicy::U16 => then(Value::U16(attr.get_u16()?)),
            AttrPolicy::U32 => then(Value::U32(attr.get_u32()?)),
            AttrPolicy::U64 => then(Value::U64(attr.get_u64()?)),
            AttrPolicy::Uint if len == 4 => then(Value::Uint(u64::from(attr.get_u32()?))),
            AttrPolicy::Uint => then(Value::Uint(attr.get_u64()?)),
            AttrPolicy::Flag => {
                attr.get_flag()?;
                then(Value::Flag)
            }
            AttrPolicy::String { max_len } => {
                let text = match bytes.split_last() {
                    Some((0, text)) => text,
                    _ => bytes,
                };
                if max_len != 0 && text.len() > usize::from(max_len) {
                    return Err(size_error);
                }
                then(Value::Text(text))
            }
            AttrPolicy::NulString { max_len } => {
                let text = attr.cstr_bytes::<INLINE_SCAN>()?;
                if max_len != 0 && text.len() > usize::from(max_len) {
                    return Err(size_error);
                }
                then(Value::Text(text))
            }
            AttrPolicy::Binary { min_len, max_len } => {
                if len < usize::from(min_len) || (max_len != 0 && len > usize::from(max_len)) {
                    return Err(size_error);
                }
                then(Value::Binary(bytes))
            }
            // One arm for both nest kinds: a nested array's entries are nests one level
            // further down, and its values say how their flags are checked.
            AttrPolicy::Nested(inner) | AttrPolicy::NestedArray(inner) => {
                let array = matches!(self, AttrPolicy::NestedArray(_));
                check_nest_flag(attr, validation)?;
                if depth + usize::from(array) >= MAX_DEPTH {
                    return Err(Error::TooDeep);
                }
                let entries = array.then_some(validation);
                let values = Values::new(attr.nested(), *inner, depth + 1, entries);
                then(if array {
                    Value::NestedArray(values)
                } else {
                    Value::Nested(values)
                })
            }
        };
        value.map(Some)
    }
}

fn check_nest_flag(attr: &Attr<'_>, validation: Validation) -> Result<(), Error> {
    if validation == Validation::Strict && !attr.is_nested() {
        return Err(Error::NestedFlag { attr: attr.kind() });
    }
    Ok(())
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

    /// The attributes of `attrs` with their values, each checked when the iterator reaches
    /// it: a decoder that reads everything validates everything in one pass, reading each
    /// nest through its [`Value::Nested`]. What precedes an invalid attribute has been
    /// yielded by then; to refuse a message before acting on any of it, use
    /// [`parse`](Self::parse) or [`validate`](Self::validate).
    #[inline]
    pub fn values<'a>(&self, attrs: AttrIter<'a>) -> Values<'a, 'p> {
        Values::new(attrs, *self, 0, None)
    }

    /// Checks every attribute in `attrs`, nested ones included.
    pub fn validate(&self, attrs: AttrIter<'_>) -> Result<(), Error> {
        // The nests' walk: one copy of the checks for the top level and the nests.
        check_all(attrs, self, 0, None)
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
    /// so the common scalar checks cost a compare; nests are walked by the out-of-line
    /// [`Values::check_all`], which also breaks the walk/check recursion.
    #[inline(always)]
    fn check(&self, attr: &Attr<'_>, depth: usize) -> Result<bool, Error> {
        let known = self.with_value(attr, depth, |value| match value {
            Value::Nested(inner) | Value::NestedArray(inner) => inner.check_all(),
            _ => Ok(()),
        })?;
        Ok(known.is_some())
    }

    /// Validates one attribute against the policy for its type (see
    /// [`AttrPolicy::with_value`]).
    #[inline(always)]
    fn with_value<'a, R>(
        &self,
        attr: &Attr<'a>,
        depth: usize,
        then: impl FnOnce(Value<'a, 'p>) -> Result<R, Error>,
    ) -> Result<Option<R>, Error> {
        self.get(attr.kind())
            .with_value(attr, depth, self.validation, then)
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

/// An attribute's value, checked against its policy and read as the policy describes it.
/// Integers are read in host byte order, whatever `NLA_F_NET_BYTEORDER` says (see
/// [`Attr::get_uint`] for a reader that honours it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Value<'a, 'p> {
    /// [`AttrPolicy::U8`].
    U8(u8),
    /// [`AttrPolicy::U16`].
    U16(u16),
    /// [`AttrPolicy::U32`].
    U32(u32),
    /// [`AttrPolicy::U64`].
    U64(u64),
    /// [`AttrPolicy::Uint`], widened.
    Uint(u64),
    /// [`AttrPolicy::Flag`].
    Flag,
    /// [`AttrPolicy::String`] or [`AttrPolicy::NulString`]: the text, without its NUL.
    Text(&'a [u8]),
    /// [`AttrPolicy::Binary`].
    Binary(&'a [u8]),
    /// [`AttrPolicy::Nested`]: the nest's values, each checked against the nested policy
    /// as the iterator reaches it.
    Nested(Values<'a, 'p>),
    /// [`AttrPolicy::NestedArray`]: the entries (their type is their index), each yielded
    /// as a [`Value::Nested`] of the nested policy.
    NestedArray(Values<'a, 'p>),
}

/// The values of an attribute stream, each checked against a [`Policy`] when the iterator
/// reaches it (see [`Policy::values`]). Yields `Err` once for the first invalid attribute
/// and then stops; unknown types are skipped ([`Validation::Lenient`]) or an error
/// ([`Validation::Strict`]).
#[derive(Debug, Clone)]
pub struct Values<'a, 'p> {
    attrs: AttrIter<'a>,
    policy: Policy<'p>,
    depth: usize,
    /// `Some(how the parent checks nest flags)` when this holds a nested array's entries:
    /// each is then a nest of `policy`, whatever its type.
    entries: Option<Validation>,
}

impl<'a, 'p> Values<'a, 'p> {
    fn new(
        attrs: AttrIter<'a>,
        policy: Policy<'p>,
        depth: usize,
        entries: Option<Validation>,
    ) -> Self {
        Values {
            attrs,
            policy,
            depth,
            entries,
        }
    }

    /// The attributes not yet read and how deep they are nested: what
    /// [`attr_set!`](crate::attr_set) reads a nest from.
    #[doc(hidden)]
    #[inline(always)]
    pub fn into_parts(self) -> (AttrIter<'a>, usize) {
        (self.attrs, self.depth)
    }

    /// Checks everything left, nests included (what [`Policy::validate`] does).
    #[inline]
    fn check_all(self) -> Result<(), Error> {
        check_all(self.attrs, &self.policy, self.depth, self.entries)
    }

    /// One entry of a nested array: a nest of `policy`, whatever its type.
    #[inline(always)]
    fn entry(&self, entry: &Attr<'a>, validation: Validation) -> Result<Values<'a, 'p>, Error> {
        if validation == Validation::Strict && !entry.is_nested() {
            return Err(Error::NestedFlag { attr: entry.kind() });
        }
        Ok(Values::new(
            entry.nested(),
            self.policy,
            self.depth + 1,
            None,
        ))
    }

    #[inline(always)]
    fn next_value(&mut self) -> Option<Result<(Attr<'a>, Value<'a, 'p>), Error>> {
        loop {
            let attr = match self.attrs.next()? {
                Ok(attr) => attr,
                Err(e) => return Some(Err(e)),
            };
            let value = match self.entries {
                Some(validation) => self
                    .entry(&attr, validation)
                    .map(|nest| Some(Value::Nested(nest))),
                None => self.policy.with_value(&attr, self.depth, Ok),
            };
            match value {
                Ok(Some(value)) => return Some(Ok((attr, value))),
                Ok(None) => continue,
                Err(e) => {
                    self.attrs = AttrIter::new(&[]);
                    return Some(Err(e));
                }
            }
        }
    }
}

impl<'a, 'p> Iterator for Values<'a, 'p> {
    type Item = Result<(Attr<'a>, Value<'a, 'p>), Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.next_value()
    }
}

impl core::iter::FusedIterator for Values<'_, '_> {}

/// [`Values::check_all`]: one loop for plain attributes and nested-array entries alike, and
/// one recursion for every kind of nest. Each attribute goes through its rule (for a nest:
/// the flag and the depth), and a nest's contents through this again, with the nest's
/// policy taken from the rule: no [`Values`] is built for it.
#[inline(never)]
fn check_all(
    attrs: AttrIter<'_>,
    policy: &Policy<'_>,
    depth: usize,
    entries: Option<Validation>,
) -> Result<(), Error> {
    for attr in attrs {
        let attr = attr?;
        // An entry of a nested array is a nest of `policy`, whatever its type, its flag
        // checked as the array's policy says (its depth the array's rule checked).
        let (rule, validation) = match entries {
            Some(array) => (AttrPolicy::Nested(policy), array),
            None => (policy.get(attr.kind()), policy.validation),
        };
        rule.apply::<(), false>(&attr, depth, validation, |_| Ok(()))?;
        match rule {
            AttrPolicy::Nested(inner) => check_all(attr.nested(), inner, depth + 1, None)?,
            AttrPolicy::NestedArray(inner) => {
                check_all(attr.nested(), inner, depth + 1, Some(validation))?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Declares a struct for one attribute set and a parser that fills it, the way the kernel's
/// generated (YNL) parsers do: a `match` on the type, each arm checked by
/// [`AttrPolicy::with_value`] with the policy of that type, known at compile time.
///
/// Use it to read a whole attribute set you know in advance into named fields: the
/// compiler sees every rule and folds each to the few compares it needs. Use [`Policy`]
/// when the policy is data (built at run time, shared with code that only validates), when
/// you need its index by type ([`Policy::parse`]), or for kinds this macro does not take
/// (`Flag`, `NestedArray`, length limits, `Reject`).
///
/// The header is `struct Name<'a>: Lenient` (or `Strict`, see [`Validation`]). Each line
/// is `type => field: Kind presence`: `type` is a literal or the name of a `u16` constant in
/// scope (the kernel's attribute name); `Kind` is one of `U8`, `U16`, `U32`,
/// `U64`, `Uint` (read as `u64`), `String`, `NulString`, `Binary` (read as `&[u8]`, the
/// text without its NUL) or `Nested(OtherSet)` (another `attr_set!` struct, parsed as its
/// own policy says); `presence` is `required` (a plain field; its absence is
/// [`Error::MissingAttr`]) or `optional` (an `Option`). The struct also gets
/// `POLICY`, the equivalent [`Policy`] (same rules, for [`Policy::validate`] or
/// [`AttrPolicy::Nested`]), and `parse`. Repeated types: the last one wins, as in
/// `nla_parse`.
///
/// ```
/// use nlcore::{attr_set, AttrIter, MsgBuilder};
///
/// attr_set! {
///     /// Counters of one link.
///     pub struct Stats<'a>: Lenient {
///         1 => rx_packets: U64 required,
///         2 => tx_packets: U64 optional,
///     }
/// }
/// attr_set! {
///     /// One link.
///     pub struct Link<'a>: Lenient {
///         1 => ifindex: U32 required,
///         2 => name: NulString required,
///         3 => stats: Nested(Stats) optional,
///     }
/// }
///
/// let mut buf = [0u8; 64];
/// let mut b = MsgBuilder::new(&mut buf);
/// b.put_u32(1, 7)?;
/// b.put_str(2, "eth0")?;
/// let nest = b.nest_start(3)?;
/// b.put_u64(1, 42)?;
/// b.nest_end(nest)?;
/// let len = b.len();
///
/// let link = Link::parse(AttrIter::new(&buf[..len]))?;
/// assert_eq!((link.ifindex, link.name), (7, &b"eth0"[..]));
/// let stats = link.stats.expect("sent");
/// assert_eq!((stats.rx_packets, stats.tx_packets), (42, None));
/// # Ok::<(), nlcore::Error>(())
/// ```
#[macro_export]
macro_rules! attr_set {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident<$lt:lifetime>: $validation:ident {
            $(
                $(#[$field_meta:meta])*
                $ty:tt => $field:ident: $kind:ident $(($nest:ident))? $presence:ident
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        $vis struct $name<$lt> {
            $(
                $(#[$field_meta])*
                pub $field: $crate::__attr_set_field!(
                    $presence,
                    $crate::__attr_set_type!($lt, $kind $(($nest))?)
                ),
            )+
            _bytes: ::core::marker::PhantomData<&$lt [u8]>,
        }

        const _: () = ::core::assert!(
            $crate::policy::__attr_set::valid_types(&[$($ty),+]),
            ::core::concat!(
                "attr_set! ", ::core::stringify!($name),
                ": types repeat, or more than 64 of them"
            )
        );

        // A set used only as a nest never calls its own `parse`.
        #[allow(dead_code)]
        impl<$lt> $name<$lt> {
            /// The types, in declaration order: a field's bit in `seen` is its index here.
            const TYPES: &'static [u16] = &[$($ty),+];
            /// The rules for each type, indexed by type.
            const ATTRS: [$crate::AttrPolicy<'static>;
                $crate::policy::__attr_set::table_len(&[$($ty),+])] = {
                let mut attrs =
                    [$crate::AttrPolicy::Unknown; $crate::policy::__attr_set::table_len(&[$($ty),+])];
                $( attrs[$ty as usize] = $crate::__attr_set_policy!($kind $(($nest))?); )+
                attrs
            };
            /// The bits of the required fields.
            const REQUIRED: u64 = 0 $(| $crate::__attr_set_required!($presence, Self::TYPES, $ty))+;

            /// The same rules as a `Policy` table (to validate only, or to nest in a policy).
            pub const POLICY: $crate::Policy<'static> =
                $crate::Policy::new(&Self::ATTRS, $crate::Validation::$validation);

            /// Checks every attribute of `attrs` against the set's rules and reads each
            /// known one into its field; fails on the first invalid attribute or, at the
            /// end, on the first missing required one.
            #[inline]
            pub fn parse(attrs: $crate::AttrIter<$lt>) -> ::core::result::Result<Self, $crate::Error> {
                Self::parse_at(attrs, 0)
            }

            /// [`parse`](Self::parse) for a set nested `depth` levels down.
            #[doc(hidden)]
            #[inline]
            // `REQUIRED` is 0 in a set of optional fields only.
            #[allow(clippy::bad_bit_mask)]
            pub fn parse_at(
                attrs: $crate::AttrIter<$lt>,
                depth: usize,
            ) -> ::core::result::Result<Self, $crate::Error> {
                const VALIDATION: $crate::Validation = $crate::Validation::$validation;
                let mut set = Self::default();
                let mut seen = 0u64;
                for attr in attrs {
                    let attr = attr?;
                    match attr.kind() {
                        $(
                            $ty => {
                                let value = Self::ATTRS[$ty as usize].with_value(
                                    &attr,
                                    depth,
                                    VALIDATION,
                                    |value| $crate::__attr_set_take!(value, $kind $(($nest))?),
                                )?;
                                // Known types are never skipped: `value` is `Some`.
                                if let ::core::option::Option::Some(value) = value {
                                    set.$field = $crate::__attr_set_wrap!($presence, value);
                                }
                                seen |= const {
                                    1 << $crate::policy::__attr_set::index_of(Self::TYPES, $ty)
                                };
                            }
                        )+
                        _ => {
                            $crate::AttrPolicy::Unknown.with_value(&attr, depth, VALIDATION, |_| {
                                ::core::result::Result::Ok(())
                            })?;
                        }
                    }
                }
                if seen & Self::REQUIRED != Self::REQUIRED {
                    return ::core::result::Result::Err($crate::policy::__attr_set::missing(
                        Self::TYPES,
                        Self::REQUIRED & !seen,
                    ));
                }
                ::core::result::Result::Ok(set)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_field {
    (required, $t:ty) => { $t };
    (optional, $t:ty) => { ::core::option::Option<$t> };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_wrap {
    (required, $v:expr) => {
        $v
    };
    (optional, $v:expr) => {
        ::core::option::Option::Some($v)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_required {
    (required, $types:expr, $ty:tt) => {
        (1 << $crate::policy::__attr_set::index_of($types, $ty))
    };
    (optional, $types:expr, $ty:tt) => {
        0
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_type {
    ($lt:lifetime, U8) => { u8 };
    ($lt:lifetime, U16) => { u16 };
    ($lt:lifetime, U32) => { u32 };
    ($lt:lifetime, U64) => { u64 };
    ($lt:lifetime, Uint) => { u64 };
    ($lt:lifetime, String) => { &$lt [u8] };
    ($lt:lifetime, NulString) => { &$lt [u8] };
    ($lt:lifetime, Binary) => { &$lt [u8] };
    ($lt:lifetime, Nested($nest:ident)) => { $nest<$lt> };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_policy {
    (String) => {
        $crate::AttrPolicy::String { max_len: 0 }
    };
    (NulString) => {
        $crate::AttrPolicy::NulString { max_len: 0 }
    };
    (Binary) => {
        $crate::AttrPolicy::Binary {
            min_len: 0,
            max_len: 0,
        }
    };
    (Nested($nest:ident)) => {
        $crate::AttrPolicy::Nested(&$nest::POLICY)
    };
    ($kind:ident) => {
        $crate::AttrPolicy::$kind
    };
}

/// The value `with_value` read, as the field's type. The policy arm that ran is the one of
/// the field's kind, so the variant always matches; the other arm is folded away.
#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_take {
    ($value:ident, Nested($nest:ident)) => {
        match $value {
            $crate::policy::Value::Nested(values) => {
                let (attrs, depth) = values.into_parts();
                $nest::parse_at(attrs, depth)
            }
            _ => ::core::result::Result::Err($crate::policy::__attr_set::MISMATCH),
        }
    };
    ($value:ident, $kind:ident) => {
        match $value {
            $crate::__attr_set_variant!($kind, v) => ::core::result::Result::Ok(v),
            _ => ::core::result::Result::Err($crate::policy::__attr_set::MISMATCH),
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_set_variant {
    (String, $v:ident) => {
        $crate::policy::Value::Text($v)
    };
    (NulString, $v:ident) => {
        $crate::policy::Value::Text($v)
    };
    ($kind:ident, $v:ident) => {
        $crate::policy::Value::$kind($v)
    };
}

/// Support for [`attr_set!`](crate::attr_set); not an API.
#[doc(hidden)]
pub mod __attr_set {
    use crate::Error;

    /// What a value of another kind than its field's would be reported as: never, the
    /// policy of a field is built from its kind.
    pub const MISMATCH: Error = Error::TooDeep;

    /// Whether no type repeats and there are at most 64 (one bit each in `seen`).
    pub const fn valid_types(types: &[u16]) -> bool {
        if types.len() > 64 {
            return false;
        }
        let mut i = 0;
        while i < types.len() {
            let mut j = i + 1;
            while j < types.len() {
                if types[i] == types[j] {
                    return false;
                }
                j += 1;
            }
            i += 1;
        }
        true
    }

    /// One more than the highest type.
    pub const fn table_len(types: &[u16]) -> usize {
        let mut max = 0;
        let mut i = 0;
        while i < types.len() {
            if types[i] > max {
                max = types[i];
            }
            i += 1;
        }
        max as usize + 1
    }

    /// Where `ty` is in `types`.
    pub const fn index_of(types: &[u16], ty: u16) -> u32 {
        let mut i = 0;
        while i < types.len() {
            if types[i] == ty {
                return i as u32;
            }
            i += 1;
        }
        panic!("attr_set!: a type not in the list")
    }

    /// The error for the first missing type (`absent` holds the bits of the absent ones).
    #[cold]
    pub fn missing(types: &[u16], absent: u64) -> Error {
        let first = absent.trailing_zeros() as usize;
        Error::MissingAttr {
            attr: types.get(first).copied().unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MsgBuilder, SliceBuffer};

    static INNER: Policy<'static> =
        Policy::new(&[AttrPolicy::Unknown, AttrPolicy::U64], Validation::Strict);
    static KINDS: [AttrPolicy<'static>; 12] = [
        AttrPolicy::Unknown,
        AttrPolicy::U8,
        AttrPolicy::U16,
        AttrPolicy::U32,
        AttrPolicy::U64,
        AttrPolicy::Uint,
        AttrPolicy::Flag,
        AttrPolicy::String { max_len: 8 },
        AttrPolicy::NulString { max_len: 8 },
        AttrPolicy::Binary {
            min_len: 2,
            max_len: 4,
        },
        AttrPolicy::Nested(&INNER),
        AttrPolicy::NestedArray(&INNER),
    ];
    static LENIENT: Policy<'static> = Policy::new(&KINDS, Validation::Lenient);
    static STRICT: Policy<'static> = Policy::new(&KINDS, Validation::Strict);
    static DEEP: Policy<'static> = Policy::new(
        &[AttrPolicy::Unknown, AttrPolicy::Nested(&DEEP)],
        Validation::Lenient,
    );

    type Builder<'b> = MsgBuilder<SliceBuffer<'b>>;

    /// Attributes written by `build`, and how many bytes they took.
    fn attrs(build: impl FnOnce(&mut Builder<'_>) -> Result<(), Error>) -> ([u8; 512], usize) {
        let mut buf = [0u8; 512];
        let mut b = MsgBuilder::new(&mut buf);
        build(&mut b).expect("test attributes fit");
        let len = b.len();
        (buf, len)
    }

    /// Reads every value, nests included: how many, or the first error.
    fn drain(values: Values<'_, '_>) -> Result<usize, Error> {
        let mut count = 0;
        for item in values {
            count += 1;
            if let (_, Value::Nested(inner) | Value::NestedArray(inner)) = item? {
                count += drain(inner)?;
            }
        }
        Ok(count)
    }

    #[test]
    fn values_are_read_as_their_policy_says_and_unknown_types_skipped() {
        let (buf, len) = attrs(|b| {
            b.put_u8(1, 0xab)?;
            b.put_u16(2, 0x1234)?;
            b.put_u32(3, 7)?;
            b.put_u64(4, 1 << 40)?;
            b.put_u32(5, 9)?;
            b.put_flag(6)?;
            b.put_bytes(7, b"abc")?;
            b.put_str(8, "eth0")?;
            b.put_bytes(9, &[1, 2, 3])?;
            b.put_u32(12, 1)?;
            let nest = b.nest_start(10)?;
            b.put_u64(1, 5)?;
            b.nest_end(nest)?;
            let array = b.nest_start(11)?;
            for (index, value) in [(1, 6), (2, 7)] {
                let entry = b.nest_start(index)?;
                b.put_u64(1, value)?;
                b.nest_end(entry)?;
            }
            b.nest_end(array)
        });
        let mut values = LENIENT.values(AttrIter::new(&buf[..len]));
        let mut next = || values.next().expect("a value").expect("a valid value").1;
        assert!(matches!(next(), Value::U8(0xab)));
        assert!(matches!(next(), Value::U16(0x1234)));
        assert!(matches!(next(), Value::U32(7)));
        assert!(matches!(next(), Value::U64(0x100_0000_0000)));
        assert!(matches!(next(), Value::Uint(9)));
        assert!(matches!(next(), Value::Flag));
        assert!(matches!(next(), Value::Text(b"abc")));
        assert!(matches!(next(), Value::Text(b"eth0")));
        assert!(matches!(next(), Value::Binary(&[1, 2, 3])));
        // Type 12 is unknown to the lenient policy: skipped.
        let Value::Nested(mut nest) = next() else {
            panic!("type 10 is a nest")
        };
        assert!(matches!(nest.next(), Some(Ok((_, Value::U64(5))))));
        assert!(nest.next().is_none());
        let Value::NestedArray(entries) = next() else {
            panic!("type 11 is a nested array")
        };
        let mut seen = [0u64; 3];
        for entry in entries {
            let (entry, Value::Nested(mut inner)) = entry.unwrap() else {
                panic!("every entry is a nest")
            };
            let Some(Ok((_, Value::U64(v)))) = inner.next() else {
                panic!("the entry holds a u64")
            };
            seen[usize::from(entry.kind())] = v;
        }
        assert_eq!(seen, [0, 6, 7]);
        assert!(values.next().is_none());
    }

    #[test]
    fn strict_values_refuse_an_unknown_type_then_stop() {
        let (buf, len) = attrs(|b| {
            b.put_u32(3, 1)?;
            b.put_u32(12, 2)?;
            b.put_u32(3, 3)
        });
        let mut values = STRICT.values(AttrIter::new(&buf[..len]));
        assert!(matches!(values.next(), Some(Ok((_, Value::U32(1))))));
        assert!(matches!(
            values.next(),
            Some(Err(Error::UnknownAttr { attr: 12 }))
        ));
        assert!(values.next().is_none());
    }

    /// Every way an attribute can break the policy: `values`, read to the end, fails as
    /// `validate` does.
    #[test]
    fn values_fail_as_validate_does() {
        type Case = fn(&mut Builder<'_>) -> Result<(), Error>;
        let cases: [(&str, Case); 11] = [
            ("u32 of 2 bytes", |b| b.put_u16(3, 1)),
            ("u8 of 4 bytes", |b| b.put_u32(1, 1)),
            ("uint of 2 bytes", |b| b.put_u16(5, 1)),
            ("flag with a value", |b| b.put_u8(6, 1)),
            ("string too long", |b| b.put_bytes(7, b"123456789")),
            ("nul string without its NUL", |b| b.put_bytes(8, b"eth0")),
            ("nul string too long", |b| b.put_str(8, "123456789")),
            ("binary too short", |b| b.put_bytes(9, &[1])),
            ("nest holding a bad u64", |b| {
                let nest = b.nest_start(10)?;
                b.put_u32(1, 1)?;
                b.nest_end(nest)
            }),
            ("nest holding an unknown type", |b| {
                let nest = b.nest_start(10)?;
                b.put_u64(2, 1)?;
                b.nest_end(nest)
            }),
            ("array entry without NLA_F_NESTED", |b| {
                let array = b.nest_start(11)?;
                b.put_u64(1, 1)?;
                b.nest_end(array)
            }),
        ];
        for (name, case) in cases {
            let (buf, len) = attrs(case);
            for policy in [&LENIENT, &STRICT] {
                let stream = AttrIter::new(&buf[..len]);
                let expected = policy.validate(stream.clone()).expect_err(name);
                assert_eq!(drain(policy.values(stream)), Err(expected), "{name}");
            }
        }
        // Nesting past MAX_DEPTH.
        let (buf, len) = attrs(|b| {
            let mut nests = [const { None }; MAX_DEPTH + 2];
            for nest in &mut nests {
                *nest = Some(b.nest_start(1)?);
            }
            for nest in nests.into_iter().rev().flatten() {
                b.nest_end(nest)?;
            }
            Ok(())
        });
        let stream = AttrIter::new(&buf[..len]);
        assert_eq!(DEEP.validate(stream.clone()), Err(Error::TooDeep));
        assert_eq!(drain(DEEP.values(stream)), Err(Error::TooDeep));
    }

    crate::attr_set! {
        /// The nest of [`Kinds`].
        struct Inner<'a>: Strict {
            1 => value: U64 required,
        }
    }

    crate::attr_set! {
        /// One field of each kind `attr_set!` takes, at the types `KINDS` gives that kind.
        struct Kinds<'a>: Lenient {
            1 => byte: U8 optional,
            2 => short: U16 optional,
            3 => word: U32 required,
            4 => long: U64 optional,
            5 => uint: Uint optional,
            7 => text: String optional,
            8 => name: NulString optional,
            9 => blob: Binary optional,
            10 => inner: Nested(Inner) optional,
        }
    }

    crate::attr_set! {
        /// A strict set: unknown types and nests without `NLA_F_NESTED` are errors.
        struct StrictKinds<'a>: Strict {
            3 => word: U32 optional,
            10 => inner: Nested(Inner) optional,
        }
    }

    #[test]
    fn attr_set_reads_each_kind_and_skips_unknown_types() {
        let (buf, len) = attrs(|b| {
            b.put_u8(1, 0xab)?;
            b.put_u16(2, 0x1234)?;
            b.put_u32(3, 7)?;
            b.put_u64(4, 1 << 40)?;
            b.put_u32(5, 9)?;
            b.put_bytes(7, b"abc\0")?;
            b.put_u32(12, 1)?;
            b.put_str(8, "eth0")?;
            b.put_bytes(9, &[1, 2, 3])?;
            let nest = b.nest_start(10)?;
            b.put_u64(1, 5)?;
            b.nest_end(nest)
        });
        let set = Kinds::parse(AttrIter::new(&buf[..len])).expect("valid");
        assert_eq!(set.byte, Some(0xab));
        assert_eq!(set.short, Some(0x1234));
        assert_eq!(set.word, 7);
        assert_eq!(set.long, Some(1 << 40));
        assert_eq!(set.uint, Some(9));
        assert_eq!(set.text, Some(&b"abc"[..]));
        assert_eq!(set.name, Some(&b"eth0"[..]));
        assert_eq!(set.blob, Some(&[1u8, 2, 3][..]));
        assert_eq!(set.inner.map(|inner| inner.value), Some(5));
    }

    #[test]
    fn attr_set_leaves_absent_optional_fields_none_and_refuses_missing_required_ones() {
        let (buf, len) = attrs(|b| b.put_u32(3, 7));
        let set = Kinds::parse(AttrIter::new(&buf[..len])).expect("valid");
        assert_eq!((set.word, set.byte, set.name), (7, None, None));
        assert!(set.inner.is_none());

        let (buf, len) = attrs(|b| {
            b.put_u8(1, 1)?;
            let nest = b.nest_start(10)?;
            b.nest_end(nest)
        });
        // The nest is read first and misses its own required type 1.
        assert_eq!(
            Kinds::parse(AttrIter::new(&buf[..len])).map(|_| ()),
            Err(Error::MissingAttr { attr: 1 })
        );
        let (buf, len) = attrs(|b| b.put_u8(1, 1));
        assert_eq!(
            Kinds::parse(AttrIter::new(&buf[..len])).map(|_| ()),
            Err(Error::MissingAttr { attr: 3 })
        );
    }

    #[test]
    fn attr_set_keeps_the_last_of_repeated_types() {
        let (buf, len) = attrs(|b| {
            b.put_u32(3, 1)?;
            b.put_u32(3, 2)
        });
        let set = Kinds::parse(AttrIter::new(&buf[..len])).expect("valid");
        assert_eq!(set.word, 2);
    }

    /// Every way an attribute can break the rules `attr_set!` takes: `parse` fails as the
    /// set's own `POLICY` does with `validate`.
    #[test]
    fn attr_set_fails_as_its_policy_validates() {
        type Case = fn(&mut Builder<'_>) -> Result<(), Error>;
        let cases: [(&str, Case); 9] = [
            ("u32 of 2 bytes", |b| b.put_u16(3, 1)),
            ("u8 of 4 bytes", |b| b.put_u32(1, 1)),
            ("u64 of 4 bytes", |b| b.put_u32(4, 1)),
            ("uint of 2 bytes", |b| b.put_u16(5, 1)),
            ("nul string without its NUL", |b| b.put_bytes(8, b"eth0")),
            ("nul string with a NUL inside", |b| {
                b.put_bytes(8, b"eth0\0seventeen bytes\0")
            }),
            ("nest holding a bad u64", |b| {
                let nest = b.nest_start(10)?;
                b.put_u32(1, 1)?;
                b.nest_end(nest)
            }),
            ("nest holding an unknown type", |b| {
                let nest = b.nest_start(10)?;
                b.put_u64(2, 1)?;
                b.nest_end(nest)
            }),
            ("attribute longer than its container", |b| {
                b.put_u32(3, 1)?;
                b.put_bytes(9, &[0xff, 0xff, 1, 0])
            }),
        ];
        for (name, case) in cases {
            let (mut buf, mut len) = attrs(case);
            if name == "attribute longer than its container" {
                // Drop the last attribute's value: its header now claims 8 bytes of 4.
                len -= 4;
                buf[len..].fill(0);
            }
            let stream = AttrIter::new(&buf[..len]);
            let expected = Kinds::POLICY.validate(stream.clone()).expect_err(name);
            assert_eq!(Kinds::parse(stream).map(|_| ()), Err(expected), "{name}");
        }
    }

    #[test]
    fn strict_attr_set_refuses_unknown_types_and_unflagged_nests() {
        let (buf, len) = attrs(|b| {
            b.put_u32(3, 1)?;
            b.put_u32(12, 2)
        });
        let stream = AttrIter::new(&buf[..len]);
        assert_eq!(
            StrictKinds::parse(stream.clone()).map(|_| ()),
            Err(Error::UnknownAttr { attr: 12 })
        );
        assert_eq!(
            StrictKinds::POLICY.validate(stream),
            Err(Error::UnknownAttr { attr: 12 })
        );
        // A nest written as plain bytes: no NLA_F_NESTED.
        let mut inner = [0u8; 12];
        inner[..2].copy_from_slice(&12u16.to_ne_bytes());
        inner[2..4].copy_from_slice(&1u16.to_ne_bytes());
        inner[4..].copy_from_slice(&5u64.to_ne_bytes());
        let (buf, len) = attrs(|b| {
            b.put_u32(3, 1)?;
            b.put_bytes(10, &inner)
        });
        let stream = AttrIter::new(&buf[..len]);
        assert_eq!(
            StrictKinds::parse(stream.clone()).map(|_| ()),
            Err(Error::NestedFlag { attr: 10 })
        );
        assert_eq!(
            StrictKinds::POLICY.validate(stream.clone()),
            Err(Error::NestedFlag { attr: 10 })
        );
        // The lenient set takes the same bytes.
        let set = Kinds::parse(stream).expect("lenient: the flag is not required");
        assert_eq!(set.inner.map(|inner| inner.value), Some(5));
    }
}
